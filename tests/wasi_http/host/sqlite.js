// spin:sqlite/sqlite@3.0.0 for the jco harness: no database behind it, so every
// open fails with the interface's own error (the app sees turso.DatabaseError).
import { witError } from "./config.js";

export class Connection {
  static open(database) {
    throw witError({ tag: "io", val: `no sqlite database ${JSON.stringify(database)} in the jco harness` });
  }
}
