/**
 * Forms from an app's config schema: the JSON Schema 2020-12 documents that pydoover (and the
 * revlink SDK) export — an `object` with `properties`, `required`, `title`, `description`,
 * `default`, number and string limits, `enum`, nested objects, arrays of one element type and
 * `format: "date-time"`, plus pydoover's `x-name`, `x-hidden`, `x-required`, `x-position`.
 *
 * Values live in one JSON object (the app's config); a field's place in it is its path. A key
 * that is absent means "not set" (the app's default applies).
 */

type Dict = Record<string, unknown>;

function isDict(value: unknown): value is Dict {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function finite(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

function text(value: unknown): string | null {
  return typeof value === "string" && value.trim() !== "" ? value : null;
}

/** A place in the config: object keys and array indexes. */
export type Path = readonly (string | number)[];

/** `pump.pin`, `channels.0.address`; "" for the config itself (as the cloud's `loc` reads). */
export function pathKey(path: Path): string {
  return path.join(".");
}

export type FieldKind =
  | "string"
  | "number"
  | "integer"
  | "boolean"
  | "enum"
  | "datetime"
  | "object"
  | "array"
  /** Anything else (free-form objects, mixed types): edited as JSON text. */
  | "json";

export interface FieldOption {
  value: unknown;
  label: string;
}

export interface SchemaField {
  /** The property name (its last path segment); "" for the root and array items. */
  key: string;
  label: string;
  description: string | null;
  kind: FieldKind;
  /** The key must be present (`required` of the parent, or `x-required`). */
  required: boolean;
  /** `null` is accepted (pydoover exports optional keys as `[type, "null"]`). */
  nullable: boolean;
  /** Not shown (`x-hidden`); its value is kept as it is. */
  hidden: boolean;
  deprecated: boolean;
  hasDefault: boolean;
  default: unknown;
  minimum: number | null;
  maximum: number | null;
  exclusiveMinimum: number | null;
  exclusiveMaximum: number | null;
  multipleOf: number | null;
  minLength: number | null;
  maxLength: number | null;
  pattern: string | null;
  format: string | null;
  options: FieldOption[];
  /** An object's fields, by `x-position` and then as listed. */
  properties: SchemaField[];
  /** The fields an object must have (its `required`). */
  requiredKeys: string[];
  /** An array's element. */
  items: SchemaField | null;
  minItems: number | null;
  maxItems: number | null;
  uniqueItems: boolean;
}

const JSON_TYPES = ["string", "number", "integer", "boolean", "object", "array"] as const;
type JsonType = (typeof JSON_TYPES)[number];

function types(schema: Dict): { type: JsonType | null; nullable: boolean } {
  const raw = schema.type;
  const list = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  const nullable = list.includes("null");
  const concrete = list.filter((t): t is JsonType => JSON_TYPES.includes(t as JsonType));
  if (concrete.length === 1) return { type: concrete[0] ?? null, nullable };
  // "integer" and "number" together are a number.
  if (concrete.length === 2 && concrete.includes("number") && concrete.includes("integer")) {
    return { type: "number", nullable };
  }
  return { type: null, nullable };
}

function kindOf(schema: Dict, type: JsonType | null): FieldKind {
  if (Array.isArray(schema.enum)) return "enum";
  if (type === "string" && schema.format === "date-time") return "datetime";
  if (type === "object") return isDict(schema.properties) ? "object" : "json";
  if (type === "array") return "array";
  if (type === null) {
    if (isDict(schema.properties)) return "object";
    if (isDict(schema.items)) return "array";
    return "json";
  }
  return type;
}

function humanize(key: string): string {
  const words = key.replace(/[_-]+/g, " ").trim();
  return words ? words[0]?.toUpperCase() + words.slice(1) : key;
}

function optionLabel(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function toField(key: string, raw: unknown, requiredByParent: boolean): SchemaField {
  const schema = isDict(raw) ? raw : {};
  const { type, nullable } = types(schema);
  const kind = kindOf(schema, type);
  const requiredKeys = Array.isArray(schema.required)
    ? schema.required.filter((k): k is string => typeof k === "string")
    : [];
  const properties =
    kind === "object" && isDict(schema.properties)
      ? Object.entries(schema.properties)
          .map(([name, child], index) => ({
            field: toField(name, child, requiredKeys.includes(name)),
            order: isDict(child) ? finite(child["x-position"]) : null,
            index,
          }))
          .sort((a, b) => {
            if (a.order !== b.order) {
              if (a.order === null) return 1;
              if (b.order === null) return -1;
              return a.order - b.order;
            }
            return a.index - b.index;
          })
          .map((entry) => entry.field)
      : [];
  const xRequired = schema["x-required"];
  return {
    key,
    label: text(schema.title) ?? humanize(key),
    description: text(schema.description),
    kind,
    required: requiredByParent || (xRequired === true && key !== ""),
    nullable,
    hidden: schema["x-hidden"] === true,
    deprecated: schema.deprecated === true,
    hasDefault: "default" in schema,
    default: schema.default,
    minimum: finite(schema.minimum),
    maximum: finite(schema.maximum),
    exclusiveMinimum: finite(schema.exclusiveMinimum),
    exclusiveMaximum: finite(schema.exclusiveMaximum),
    multipleOf: finite(schema.multipleOf),
    minLength: finite(schema.minLength),
    maxLength: finite(schema.maxLength),
    pattern: text(schema.pattern),
    format: text(schema.format),
    options: Array.isArray(schema.enum)
      ? schema.enum.map((value) => ({ value, label: optionLabel(value) }))
      : [],
    properties,
    requiredKeys,
    // An item that is in the list must have a value.
    items: kind === "array" ? toField("", schema.items, true) : null,
    minItems: finite(schema.minItems),
    maxItems: finite(schema.maxItems),
    uniqueItems: schema.uniqueItems === true,
  };
}

/** The form of a config schema (its root object field), or null when it describes no object. */
export function formFromSchema(schema: unknown): SchemaField | null {
  if (!isDict(schema)) return null;
  const root = toField("", schema, false);
  if (root.kind !== "object") return null;
  return { ...root, required: true };
}

// ---------------------------------------------------------------------------------------------
// Values at paths

/** The value at `path`, or undefined where the path leads nowhere. */
export function getAt(value: unknown, path: Path): unknown {
  let here: unknown = value;
  for (const part of path) {
    if (typeof part === "number") {
      if (!Array.isArray(here)) return undefined;
      here = here[part];
    } else {
      if (!isDict(here)) return undefined;
      here = here[part];
    }
  }
  return here;
}

/**
 * A copy of `root` with `value` at `path` (objects and arrays on the way are created); an
 * `undefined` value removes the key (or, in an array, the item).
 */
export function setAt(root: unknown, path: Path, value: unknown): unknown {
  if (path.length === 0) return value;
  const [head, ...rest] = path;
  if (typeof head === "number") {
    const list = Array.isArray(root) ? [...root] : [];
    const next = setAt(list[head], rest, value);
    if (next === undefined && rest.length === 0) list.splice(head, 1);
    else {
      while (list.length < head) list.push(null);
      list[head] = next;
    }
    return list;
  }
  const key = head as string;
  const object: Dict = isDict(root) ? root : {};
  const next = setAt(object[key], rest, value);
  if (next !== undefined) return { ...object, [key]: next };
  return Object.fromEntries(Object.entries(object).filter(([name]) => name !== key));
}

/** A new value for an empty field of this kind (an added array item, say). */
export function emptyValue(field: SchemaField): unknown {
  if (field.hasDefault) return structuredClone(field.default);
  switch (field.kind) {
    case "object":
      return {};
    case "array":
      return [];
    case "boolean":
      return false;
    case "enum":
      return field.options[0]?.value ?? null;
    case "string":
      return "";
    default:
      return null;
  }
}

/** The values the form starts from: a copy of the app's config (unknown keys kept). */
export function initialValues(config: unknown): Record<string, unknown> {
  return isDict(config) ? structuredClone(config) : {};
}

// ---------------------------------------------------------------------------------------------
// Date-time fields

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** An ISO 8601 value → the value of a `datetime-local` input (the browser's zone). */
export function toDatetimeLocal(value: unknown): string {
  if (typeof value !== "string" || value === "") return "";
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return "";
  return (
    `${pad(d.getFullYear(), 4)}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}` +
    `T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

/** A `datetime-local` input's value → ISO 8601 in UTC (`2024-05-01T06:30:00Z`), or null. */
export function fromDatetimeLocal(input: string): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(input.trim());
  if (!m) return null;
  const d = new Date(
    Number(m[1]),
    Number(m[2]) - 1,
    Number(m[3]),
    Number(m[4]),
    Number(m[5]),
    Number(m[6] ?? 0),
  );
  if (Number.isNaN(d.getTime()) || d.getDate() !== Number(m[3])) return null;
  return d.toISOString().replace(/\.000Z$/, "Z");
}

// ---------------------------------------------------------------------------------------------
// Validation

/** Messages by field path key; "" is the config as a whole. */
export type FieldErrors = Record<string, string>;

function isMultiple(value: number, of: number): boolean {
  if (of <= 0) return true;
  const ratio = value / of;
  return Math.abs(ratio - Math.round(ratio)) < 1e-9 * Math.max(1, Math.abs(ratio));
}

function num(n: number): string {
  return String(n);
}

function scalarProblem(field: SchemaField, value: unknown): string | null {
  switch (field.kind) {
    case "integer":
    case "number": {
      if (typeof value !== "number" || !Number.isFinite(value)) return "Enter a number.";
      if (field.kind === "integer" && !Number.isInteger(value)) return "Enter a whole number.";
      if (field.minimum !== null && value < field.minimum) {
        return `Enter ${num(field.minimum)} or more.`;
      }
      if (field.maximum !== null && value > field.maximum) {
        return `Enter ${num(field.maximum)} or less.`;
      }
      if (field.exclusiveMinimum !== null && value <= field.exclusiveMinimum) {
        return `Enter more than ${num(field.exclusiveMinimum)}.`;
      }
      if (field.exclusiveMaximum !== null && value >= field.exclusiveMaximum) {
        return `Enter less than ${num(field.exclusiveMaximum)}.`;
      }
      if (field.multipleOf !== null && !isMultiple(value, field.multipleOf)) {
        return `Enter a multiple of ${num(field.multipleOf)}.`;
      }
      return null;
    }
    case "string":
    case "datetime": {
      if (typeof value !== "string") return "Enter text.";
      const length = [...value].length;
      if (field.minLength !== null && length < field.minLength) {
        return field.minLength === 1
          ? "Required."
          : `Enter at least ${field.minLength} characters.`;
      }
      if (field.maxLength !== null && length > field.maxLength) {
        return `Enter at most ${field.maxLength} characters.`;
      }
      if (field.pattern !== null) {
        let pattern: RegExp | null = null;
        try {
          pattern = new RegExp(field.pattern, "u");
        } catch {
          pattern = null; // a pattern this browser cannot read: the cloud checks it
        }
        if (pattern && !pattern.test(value)) return `Does not match the pattern ${field.pattern}.`;
      }
      if (field.kind === "datetime" && Number.isNaN(Date.parse(value))) {
        return "Enter a date and time.";
      }
      return null;
    }
    case "boolean":
      return typeof value === "boolean" ? null : "Choose yes or no.";
    case "enum":
      return field.options.some((o) => sameValue(o.value, value))
        ? null
        : "Choose one of the options.";
    default:
      return null;
  }
}

function sameValue(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

function check(field: SchemaField, value: unknown, path: Path, errors: FieldErrors): void {
  const key = pathKey(path);
  if (value === undefined) {
    // An object without a value of its own still needs its required fields.
    if (field.kind === "object" && field.required && !field.hasDefault) {
      check(field, {}, path, errors);
    } else if (field.required && !field.hasDefault) {
      errors[key] = "Required.";
    }
    return;
  }
  if (value === null) {
    if (!field.nullable && field.required) errors[key] = "Required.";
    return;
  }
  if (field.kind === "object") {
    if (!isDict(value)) {
      errors[key] = "Expected a group of settings.";
      return;
    }
    // A hidden field is not the person's to fix; the cloud still checks it.
    for (const child of field.properties.filter((p) => !p.hidden)) {
      check(child, value[child.key], [...path, child.key], errors);
    }
    return;
  }
  if (field.kind === "array") {
    if (!Array.isArray(value)) {
      errors[key] = "Expected a list.";
      return;
    }
    if (field.minItems !== null && value.length < field.minItems) {
      errors[key] =
        field.minItems === 1 ? "Add at least one item." : `Add at least ${field.minItems} items.`;
    } else if (field.maxItems !== null && value.length > field.maxItems) {
      errors[key] = `At most ${field.maxItems} items.`;
    } else if (field.uniqueItems) {
      const seen = new Set(value.map((item) => JSON.stringify(item)));
      if (seen.size !== value.length) errors[key] = "Each item must be different.";
    }
    const items = field.items;
    if (items) value.forEach((item, index) => check(items, item, [...path, index], errors));
    return;
  }
  if (value === "" && field.required && (field.kind === "string" || field.kind === "datetime")) {
    errors[key] = "Required.";
    return;
  }
  const problem = scalarProblem(field, value);
  if (problem !== null) errors[key] = problem;
}

/** What is wrong with the values, by field; an empty object when the form may be saved. */
export function validateForm(root: SchemaField, values: unknown): FieldErrors {
  const errors: FieldErrors = {};
  check(root, values, [], errors);
  return errors;
}

/** The field at `path` (array indexes lead to the array's element), or null. */
export function fieldAt(root: SchemaField, path: Path): SchemaField | null {
  let here: SchemaField | null = root;
  for (const part of path) {
    if (here === null) return null;
    if (typeof part === "number" || /^\d+$/.test(part)) {
      here = here.kind === "array" ? here.items : null;
    } else {
      here = here.properties.find((p) => p.key === part) ?? null;
    }
  }
  return here;
}

export interface ServerErrors {
  /** Messages by the path key of the nearest field the form shows. */
  fields: FieldErrors;
  /** Messages that name no field of the form. */
  other: string[];
}

/**
 * Map the cloud's 422 items (`loc: ["body", "<field>", ...]`) to the form's fields: each goes
 * to the deepest field on its path; the rest (the body as a whole, unknown keys) stay general.
 */
export function serverErrors(
  root: SchemaField,
  items: readonly { loc: readonly (string | number)[]; msg: string }[],
): ServerErrors {
  const result: ServerErrors = { fields: {}, other: [] };
  for (const item of items) {
    const loc = item.loc[0] === "body" ? item.loc.slice(1) : [...item.loc];
    const path = loc.map((part) =>
      typeof part === "string" && /^\d+$/.test(part) ? Number(part) : part,
    );
    let found = -1;
    for (let length = path.length; length > 0; length -= 1) {
      const field = fieldAt(root, path.slice(0, length));
      if (field !== null && !field.hidden) {
        found = length;
        break;
      }
    }
    if (found <= 0) {
      const where = path.length > 0 ? `${pathKey(path)}: ` : "";
      result.other.push(`${where}${item.msg}`);
      continue;
    }
    const key = pathKey(path.slice(0, found));
    const rest = path.slice(found);
    const message = rest.length > 0 ? `${pathKey(rest)}: ${item.msg}` : item.msg;
    result.fields[key] = result.fields[key] ? `${result.fields[key]} ${message}` : message;
  }
  return result;
}
