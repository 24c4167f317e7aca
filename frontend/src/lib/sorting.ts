/** A copy of `items` in the order of their text (locale-aware, so "ä" sorts near "a"). */
export function sortByText<T>(items: readonly T[], text: (item: T) => string): T[] {
  return [...items].sort((a, b) => text(a).localeCompare(text(b)));
}
