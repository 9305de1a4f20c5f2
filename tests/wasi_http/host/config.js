// What the Spin host would give one component, read from EDGE_SPIN_HOST (JSON):
//   { "key_value_stores": ["default"],   labels the manifest grants
//     "variables": {"name": "value"},     the component's resolved variables
//     "max_key_bytes": 255,               optional KV key size limit (UTF-8 bytes)
//     "max_value_bytes": 1048576 }        optional KV value size limit
// The test harness fills it in from the component's spin.toml entry.
const raw = process.env.EDGE_SPIN_HOST ?? "{}";

export const config = JSON.parse(raw);

/** An Error that jco lowers as the `err` case of a WIT result, carrying `payload`. */
export function witError(payload) {
  const error = new Error(`${payload.tag}${payload.val === undefined ? "" : `: ${payload.val}`}`);
  Object.defineProperty(error, "payload", { value: payload });
  return error;
}
