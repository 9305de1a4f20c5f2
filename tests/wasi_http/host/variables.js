// fermyon:spin/variables@2.0.0 for the jco harness: the component's resolved variables.
import { config, witError } from "./config.js";

const values = new Map(Object.entries(config.variables ?? {}));

export function get(name) {
  const value = values.get(name);
  if (value === undefined) {
    throw witError({ tag: "undefined", val: `no variable named ${JSON.stringify(name)}` });
  }
  return value;
}
