// The endpoints of this edge up, by URLs relative to the page (/_edge/ui), so
// the page reaches nothing but the server that served it.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function answer(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    const message = (body && body.error) || `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, message);
  }
  return body;
}

export async function get(path, params = {}) {
  const query = new URLSearchParams(params).toString();
  const response = await fetch(query ? `${path}?${query}` : path, {
    headers: { accept: "application/json" },
    cache: "no-store",
  });
  return answer(response);
}

export async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(body),
  });
  return answer(response);
}

// At most one call of `fn` per `wait` ms; calls in between are folded into one.
export function throttle(fn, wait) {
  let last = 0;
  let timer = null;
  return () => {
    if (timer !== null) return;
    const delay = Math.max(0, last + wait - Date.now());
    timer = setTimeout(async () => {
      timer = null;
      last = Date.now();
      try {
        await fn();
      } catch (err) {
        console.warn(err);
      }
    }, delay);
  };
}
