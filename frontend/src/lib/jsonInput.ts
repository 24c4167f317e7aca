/** Checking a JSON object typed by hand (command payloads). */

export type JsonObject = Record<string, unknown>;

export type JsonCheck = { ok: true; value: JsonObject } | { ok: false; message: string };

export function parseJsonObject(text: string): JsonCheck {
  if (text.trim() === "") return { ok: false, message: "Enter a JSON object, e.g. {}." };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { ok: false, message: `Not valid JSON: ${reason}` };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    const kind = Array.isArray(value) ? "an array" : value === null ? "null" : typeof value;
    return { ok: false, message: `The payload must be a JSON object ({…}), not ${kind}.` };
  }
  return { ok: true, value: value as JsonObject };
}

/** Pretty JSON for reading: two-space indent, stable for any value. */
export function prettyJson(value: unknown): string {
  if (value === undefined) return "—";
  return JSON.stringify(value, null, 2) ?? String(value);
}
