// fermyon:spin/key-value@2.0.0 for the jco harness: one in-memory Map per label,
// shared by every instance in this process, granted labels only.
import { config, witError } from "./config.js";

const granted = new Set(config.key_value_stores ?? []);
const maxKeyBytes = config.max_key_bytes ?? null;
const maxValueBytes = config.max_value_bytes ?? null;
const encoder = new TextEncoder();
const stores = new Map();

export class Store {
  #data;

  constructor(data) {
    this.#data = data;
  }

  static open(label) {
    if (!granted.has(label)) {
      throw witError({ tag: "access-denied" });
    }
    let data = stores.get(label);
    if (!data) {
      data = new Map();
      stores.set(label, data);
    }
    return new Store(data);
  }

  get(key) {
    const value = this.#data.get(key);
    return value === undefined ? undefined : value.slice();
  }

  set(key, value) {
    const keyBytes = encoder.encode(key).length;
    if (maxKeyBytes !== null && keyBytes > maxKeyBytes) {
      throw witError({
        tag: "other",
        val: `too large: key of ${keyBytes} bytes (limit ${maxKeyBytes})`,
      });
    }
    if (maxValueBytes !== null && value.length > maxValueBytes) {
      throw witError({
        tag: "other",
        val: `too large: value of ${value.length} bytes (limit ${maxValueBytes})`,
      });
    }
    this.#data.set(key, Uint8Array.from(value));
  }

  delete(key) {
    this.#data.delete(key);
  }

  exists(key) {
    return this.#data.has(key);
  }

  getKeys() {
    return [...this.#data.keys()];
  }
}
