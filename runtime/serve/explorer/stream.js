// The event stream read with fetch, for when the page must send the admin
// token (EventSource cannot send a header). Same contract: `id:` and `data:`
// lines, a blank line ends a message, `:` lines are comments; after a drop it
// asks again for the events after the last one it saw.
import { ApiError, headers } from "./api.js";

function parse(block) {
  const data = [];
  for (const line of block.split(/\r?\n/)) {
    if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  return data.length ? data.join("\n") : null;
}

export async function follow({ after, onOpen, onData, onDrop }) {
  let retry = 1000;
  for (;;) {
    try {
      const response = await fetch(`events?after=${after()}`, {
        headers: headers({ accept: "text/event-stream" }),
        cache: "no-store",
      });
      if (!response.ok) throw new ApiError(response.status, `${response.status} from the event stream`);
      onOpen();
      retry = 1000;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end = buffer.search(/\r?\n\r?\n/);
        while (end >= 0) {
          const data = parse(buffer.slice(0, end));
          buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, "");
          if (data !== null) onData(data);
          end = buffer.search(/\r?\n\r?\n/);
        }
      }
      onDrop(null);
    } catch (err) {
      onDrop(err);
    }
    await new Promise((resolve) => setTimeout(resolve, retry));
    retry = Math.min(retry * 2, 30000);
  }
}
