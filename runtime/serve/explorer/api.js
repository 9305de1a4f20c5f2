// The endpoints of this edge up, by URLs relative to the page (/_edge/ui), so
// the page reaches nothing but the server that served it.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// With an admin token, edge up asks every call for it: the page keeps it for
// this tab only (sessionStorage is per origin, so per port too).
const TOKEN_KEY = "edge-admin-token";

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export function headers(extra = {}) {
  const given = token();
  return given ? { ...extra, authorization: `Bearer ${given}` } : extra;
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
    headers: headers({ accept: "application/json" }),
    cache: "no-store",
  });
  return answer(response);
}

export async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: headers({ "content-type": "application/json", accept: "application/json" }),
    body: JSON.stringify(body),
  });
  return answer(response);
}

// At most one run of `fn` per `wait` ms and never two at once; calls in
// between are folded into the next run.
export function throttle(fn, wait) {
  let last = 0;
  let timer = null;
  let running = false;
  let again = false;
  const run = async () => {
    timer = null;
    running = true;
    last = Date.now();
    try {
      await fn();
    } catch (err) {
      console.warn(err);
    }
    running = false;
    if (again) {
      again = false;
      schedule();
    }
  };
  const schedule = () => {
    if (running) again = true;
    else if (timer === null) timer = setTimeout(run, Math.max(0, last + wait - Date.now()));
  };
  return schedule;
}

// For views loaded from several places: only the answer to the latest call
// is drawn, so a slow older answer never overwrites a newer one.
const tickets = {};

export function ticket(name) {
  const mine = (tickets[name] = (tickets[name] || 0) + 1);
  return () => tickets[name] === mine;
}
