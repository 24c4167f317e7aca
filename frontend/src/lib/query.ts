/** Reading Vue Router query values (each may be a string, null, or a list). */

type QueryValue = string | null | (string | null)[] | undefined;

export function queryList(value: QueryValue): string[] {
  const items = Array.isArray(value) ? value : [value];
  const seen = new Set<string>();
  for (const item of items) if (typeof item === "string" && item !== "") seen.add(item);
  return [...seen];
}

export function queryString(value: QueryValue): string | null {
  const [first] = queryList(value);
  return first ?? null;
}

export function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item, index) => item === b[index]);
}
