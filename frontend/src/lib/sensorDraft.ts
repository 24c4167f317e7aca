/** A sensor's settings as typed into the edit row, and their checks before saving. */

export interface SensorSettings {
  name: string;
  unit: string;
  min_value: number | null;
  max_value: number | null;
}

/** The edit row's inputs: bounds stay text so a half-typed number is not lost. */
export interface SensorDraft {
  name: string;
  unit: string;
  min: string;
  max: string;
}

export type DraftCheck = { ok: true; update: SensorSettings } | { ok: false; message: string };

const asText = (value: number | null): string => (value === null ? "" : String(value));

export function draftOf(sensor: SensorSettings): SensorDraft {
  return {
    name: sensor.name,
    unit: sensor.unit,
    min: asText(sensor.min_value),
    max: asText(sensor.max_value),
  };
}

/** An empty bound means "none"; a decimal comma is accepted (as typed in many locales). */
export function parseBound(text: string): number | null | undefined {
  if (text.trim() === "") return null;
  const value = Number(text.replace(",", "."));
  return Number.isFinite(value) ? value : undefined;
}

/** The update to send, or the first problem of the draft (in the order the fields are read). */
export function checkDraft(draft: SensorDraft): DraftCheck {
  const min = parseBound(draft.min);
  if (min === undefined) return { ok: false, message: "Min must be a number or empty." };
  const max = parseBound(draft.max);
  if (max === undefined) return { ok: false, message: "Max must be a number or empty." };
  const name = draft.name.trim();
  if (!name) return { ok: false, message: "The name cannot be empty." };
  if (min !== null && max !== null && min > max) {
    return { ok: false, message: "Min must not be greater than max." };
  }
  return { ok: true, update: { name, unit: draft.unit.trim(), min_value: min, max_value: max } };
}
