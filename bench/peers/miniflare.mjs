// Serves todo-worker.mjs with Miniflare on 127.0.0.1, its KV namespace persisted
// on disk, for bench/peers.py:
//
//   node miniflare.mjs --port PORT --persist DIR
//
// Prints "ready <url>" once workerd answers, and on SIGTERM or SIGINT disposes of
// Miniflare (which stops its workerd child) and exits 0.
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Log, LogLevel, Miniflare } from "miniflare";

const { values } = parseArgs({
  options: { port: { type: "string" }, persist: { type: "string" } },
  strict: true,
});
if (!values.port || !values.persist) {
  console.error("usage: node miniflare.mjs --port PORT --persist DIR");
  process.exit(2);
}

const here = fileURLToPath(new URL(".", import.meta.url));
const mf = new Miniflare({
  modules: true,
  scriptPath: `${here}todo-worker.mjs`,
  // Module names are paths relative to this (by default the working directory,
  // which bench/peers.py sets to a temporary one: workerd refuses names with "..").
  modulesRoot: here,
  compatibilityDate: "2026-07-01",
  kvNamespaces: ["TODOS"],
  kvPersist: values.persist, // a directory: SQLite metadata and blob files under it
  host: "127.0.0.1",
  port: Number(values.port),
  // Without this Miniflare downloads the Request.cf object from Cloudflare at start.
  cf: false,
  // Warnings and errors only, and no line per request: edge up runs with
  // --log-level warning for the same reason.
  log: new Log(LogLevel.WARN),
  logRequests: false,
});

const url = await mf.ready;
console.log(`ready ${url}`);

// Miniflare's own SIGTERM and SIGINT handlers kill workerd and exit 143 or 130 at
// once; these replace them so that dispose() finishes first. Its exit hook stays,
// as a backstop. (Its temporary directory goes under $TMPDIR: bench/peers.py
// points that into its own, which it removes.)
let stopping = false;
async function shutdown() {
  if (stopping) return;
  stopping = true;
  await mf.dispose();
  process.exit(0);
}
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.removeAllListeners(signal);
  process.on(signal, shutdown);
}
