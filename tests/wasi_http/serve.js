// Serves one transpiled component's wasi:http/incoming-handler on loopback.
//
//   node serve.js <transpiled-dir>/<name>.js [host]
//
// It uses preview2-shim's HTTPServer, the server `jco serve` runs, but listens
// on a free port (port 0) and prints `listening <host>:<port>` on stdout once
// it accepts connections, so that a test can start it without a race.
import process from "node:process";
import { pathToFileURL } from "node:url";
import v8 from "node:v8";
import { HTTPServer } from "@bytecodealliance/preview2-shim/http";

const [modulePath, host = "127.0.0.1"] = process.argv.slice(2);
if (!modulePath) {
  console.error("usage: node serve.js <transpiled component .js> [host]");
  process.exit(2);
}

// CPython's core module uses extended constant expressions (global inits such
// as `i32.const; i32.const; i32.add`). V8 ships them from Node 21 on; Node 20
// has them behind a flag, which must be set before the module is compiled.
const extendedConst = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
  0x06, 0x09, 0x01, 0x7f, 0x00, // global section: one immutable i32
  0x41, 0x01, 0x41, 0x02, 0x6a, 0x0b, // = i32.const 1; i32.const 2; i32.add; end
]);
if (!WebAssembly.validate(extendedConst)) {
  v8.setFlagsFromString("--experimental-wasm-extended-const");
  if (!WebAssembly.validate(extendedConst)) {
    console.error(`Node ${process.version} cannot compile Wasm extended constant expressions`);
    process.exit(1);
  }
}

const component = await import(pathToFileURL(modulePath).href);
if (typeof component.incomingHandler?.handle !== "function") {
  console.error(`${modulePath} exports no wasi:http/incoming-handler`);
  process.exit(1);
}

const server = new HTTPServer(component.incomingHandler);
server.listen(0, host);
const { port } = server.address();
process.stdout.write(`listening ${host}:${port}\n`);

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    server.stop();
    process.exit(0);
  });
}
