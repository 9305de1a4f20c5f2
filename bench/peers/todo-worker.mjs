// The todo app's GET /todos/:id and POST /todos (examples/todo/app.py) as a
// Workers module worker on a KV namespace bound as TODOS: bench/peers.py runs it
// under Miniflare beside `edge up` and bench/baseline_app.py, which do the same
// work. Same keys (todo:<id>), ids, validation, messages, status codes and JSON.
//
// Where Python and JavaScript differ, this follows Python: ids are percent-decoded
// as urllib.parse.unquote does, shown in messages as repr() shows a str, and
// titles are stripped of what str.strip() strips. One difference is left:
// JSON.parse refuses NaN and Infinity, which json.loads takes (no load sends them).

const TODO_ID = /^[0-9a-f]{24}$/;
const JSON_TYPE = "application/json";

class HTTPError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function json(obj, status = 200, headers = {}) {
  return new Response(JSON.stringify(obj), {
    status,
    headers: { "content-type": JSON_TYPE, ...headers },
  });
}

// --- Python's behaviour, where the messages or the stored title depend on it ----

// urllib.parse.unquote: %XX escapes become bytes, decoded as UTF-8 with U+FFFD
// for bad sequences; a % without two hex digits stays as it is.
function unquote(raw) {
  if (!raw.includes("%")) return raw;
  const bytes = [];
  const encoder = new TextEncoder();
  for (let i = 0; i < raw.length; ) {
    const hex = raw.slice(i + 1, i + 3);
    if (raw[i] === "%" && /^[0-9a-fA-F]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 3;
    } else {
      const ch = String.fromCodePoint(raw.codePointAt(i));
      bytes.push(...encoder.encode(ch));
      i += ch.length;
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

// What str.isprintable() calls not printable (the space excepted).
const NOT_PRINTABLE = /^[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]$/u;

// repr() of a str: the quote it picks, its escapes.
function pyRepr(s) {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  const escapes = { "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", [quote]: "\\" + quote };
  let out = quote;
  for (const ch of s) {
    if (ch in escapes) {
      out += escapes[ch];
    } else if (ch !== " " && NOT_PRINTABLE.test(ch)) {
      const cp = ch.codePointAt(0);
      const [prefix, width] = cp < 0x100 ? ["x", 2] : cp < 0x10000 ? ["u", 4] : ["U", 8];
      out += "\\" + prefix + cp.toString(16).padStart(width, "0");
    } else {
      out += ch;
    }
  }
  return out + quote;
}

// str.strip() with no argument: Python's whitespace, which is not String.trim()'s
// (Python adds \x1c-\x1f and \x85, JavaScript adds U+FEFF).
const PY_SPACE = "[\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
const PY_STRIP = new RegExp(`^${PY_SPACE}+|${PY_SPACE}+$`, "g");
const pyStrip = (s) => s.replace(PY_STRIP, "");

// bytes.strip(): ASCII whitespace only.
const isBlank = (bytes) => bytes.every((b) => b === 0x20 || (b >= 0x09 && b <= 0x0d));

// --- the app ----------------------------------------------------------------------

// 16 hex digits of the time in nanoseconds, then 8 random ones, as examples/todo does.
// Workers' clock has millisecond steps; the random part keeps ids of one step apart.
function newId() {
  const nanos = (BigInt(Date.now()) * 1_000_000n).toString(16).padStart(16, "0");
  const random = crypto.getRandomValues(new Uint8Array(4));
  return nanos + Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("");
}

function parseId(raw) {
  const id = unquote(raw);
  if (!TODO_ID.test(id)) {
    const shown = pyRepr(Array.from(id).slice(0, 40).join(""));
    throw new HTTPError(400, `not a todo id: ${shown} (ids are 24 hex digits)`);
  }
  return id;
}

async function parseBody(request) {
  const bytes = new Uint8Array(await request.arrayBuffer());
  if (isBlank(bytes)) throw new HTTPError(400, "request body is empty; expected JSON");
  let text;
  try {
    // Keep a BOM, as Python's bytes.decode does: the parse then refuses it, as json.loads does.
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new HTTPError(400, "request body is not valid UTF-8; expected JSON");
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new HTTPError(400, "request body is not valid JSON");
  }
}

function validated(payload) {
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
    throw new HTTPError(400, "expected a JSON object");
  }
  if (!Object.hasOwn(payload, "title")) throw new HTTPError(400, "title is required");
  const title = payload.title;
  if (typeof title !== "string" || !pyStrip(title)) {
    throw new HTTPError(400, "title must be a non-empty string");
  }
  const todo = { title: pyStrip(title) };
  if (Object.hasOwn(payload, "done")) {
    if (typeof payload.done !== "boolean") throw new HTTPError(400, "done must be true or false");
    todo.done = payload.done;
  }
  return todo;
}

async function getTodo(env, rawId) {
  const raw = await env.TODOS.get(`todo:${parseId(rawId)}`);
  if (raw === null) throw new HTTPError(404, "no such todo");
  return json(JSON.parse(raw)); // parsed and encoded again, as the app's get_json does
}

async function createTodo(env, request) {
  const fields = validated(await parseBody(request));
  const id = newId();
  const todo = { id, title: fields.title, done: fields.done ?? false };
  await env.TODOS.put(`todo:${id}`, JSON.stringify(todo));
  return json(todo, 201, { location: `/todos/${id}` });
}

// The two routes, matched as the framework matches /todos and /todos/:id (one
// trailing slash allowed). Other paths and methods get the framework's errors.
async function route(request, env) {
  let parts = new URL(request.url).pathname.split("/").slice(1);
  if (parts.length > 0 && parts[parts.length - 1] === "") parts = parts.slice(0, -1);
  if (parts[0] !== "todos" || parts.length > 2 || (parts.length === 2 && !parts[1])) {
    throw new HTTPError(404, "not found");
  }
  const [allowed, handle] =
    parts.length === 1
      ? ["POST", () => createTodo(env, request)]
      : ["GET", () => getTodo(env, parts[1])];
  if (request.method !== allowed) {
    return json({ error: "method not allowed" }, 405, { allow: allowed });
  }
  return handle();
}

export default {
  async fetch(request, env) {
    try {
      return await route(request, env);
    } catch (err) {
      if (err instanceof HTTPError) return json({ error: err.message }, err.status);
      throw err;
    }
  },
};
