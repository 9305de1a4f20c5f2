// One scenario of @libsql/client against a Hrana URL; prints what it saw as JSON.
// Usage: node probe.mjs <types|read|vanish|close> <url>
import { createClient } from "@libsql/client";

const [scenario, url] = process.argv.slice(2);
const client = createClient({ url });

async function failure(promise) {
  try {
    await promise;
    return null;
  } catch (e) {
    return { code: e.code ?? null, message: String(e.message) };
  }
}

const scenarios = {
  async types() {
    await client.execute("CREATE TABLE IF NOT EXISTS js_typed (id INTEGER PRIMARY KEY, at VARCHAR(8), x)");
    await client.execute("INSERT INTO js_typed (at, x) VALUES ('now', 1)");
    const rs = await client.execute("SELECT id, at, x, x + 1 AS y FROM js_typed");
    return { columns: rs.columns, columnTypes: rs.columnTypes };
  },
  async read() {
    await client.execute("CREATE TABLE IF NOT EXISTS js_log (v TEXT)");
    const tx = await client.transaction("read");
    const counted = await tx.execute("SELECT count(*) AS n FROM js_log");
    const insert = await failure(tx.execute("INSERT INTO js_log VALUES ('in a read transaction')"));
    await tx.rollback();
    tx.close();
    const batch = await failure(client.batch(["INSERT INTO js_log VALUES ('in a read batch')"], "read"));
    await client.execute("INSERT INTO js_log VALUES ('after')");
    const rows = (await client.execute("SELECT v FROM js_log")).rows.map((r) => r.v);
    return { counted: Number(counted.rows[0].n), insert, batch, rows };
  },
  async vanish() {
    await client.execute("CREATE TABLE IF NOT EXISTS js_log (v TEXT)");
    const tx = await client.transaction("write");
    tx.execute("INSERT INTO js_log VALUES ('vanished')").catch(() => {});
    client.close(); // gone before the INSERT's reply
    return { sent: true };
  },
  async close() {
    await client.execute("CREATE TABLE IF NOT EXISTS js_log (v TEXT)");
    const tx = await client.transaction("write");
    await tx.execute("INSERT INTO js_log VALUES ('closed')"); // holds the write lock
    tx.close(); // close_stream, not waited for
    client.close();
    return { sent: true };
  },
};

const seen = await scenarios[scenario]();
console.log(JSON.stringify(seen));
process.exit(0);
