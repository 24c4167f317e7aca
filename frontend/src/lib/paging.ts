/**
 * Paging through the cloud's WebMACS lists (`{page, page_size, total, data}`, `page` from 1),
 * free of Vue: what the pager says, and which page a row is on (components/PagerNav.vue draws
 * the pager).
 */

/** The WebMACS page shape every paged list of the cloud answers with. */
export interface PageOf<T> {
  page: number;
  page_size: number;
  total: number;
  data: T[];
}

/** The largest `page_size` the cloud takes (cloud/services/paging.py). */
export const MAX_PAGE_SIZE = 100;

/** "Showing 21–40 of 45." for the `shown` rows of page `page`. */
export function pageSummary(page: number, pageSize: number, total: number, shown: number): string {
  if (shown === 0) return `None of ${total} on this page.`;
  const first = (page - 1) * pageSize + 1;
  return `Showing ${first}–${first + shown - 1} of ${total}.`;
}

/** The number of pages `total` rows take (at least 1). */
export function lastPage(total: number, pageSize: number): number {
  return Math.max(1, Math.ceil(total / pageSize));
}

/** `target`, kept within pages 1 to `pages`. */
export function clampPage(target: number, pages: number): number {
  return Math.min(Math.max(1, Math.trunc(target)), Math.max(1, pages));
}

/** The page the row at `index` (from 0, in the list's order) is on. */
export function pageOfIndex(index: number, pageSize: number): number {
  return Math.floor(Math.max(0, index) / pageSize) + 1;
}

/** Whether the pager is worth showing: more than one page, or a page past the first. */
export function hasPages(page: number, pages: number): boolean {
  return pages > 1 || page > 1;
}

/**
 * The page to show instead of page `page`, which came back without rows although it is past
 * the first (its last row went): the one before it, or the last there is now if fewer.
 * Null when there is nothing to step back to.
 */
export function pageBefore(page: number, total: number, pageSize: number): number | null {
  if (page <= 1) return null;
  return Math.min(page - 1, lastPage(total, pageSize));
}

/**
 * Where in the list the first row that `matches` is (from 0, in the list's order), or null
 * when no row does. Asks for the list page by page, `scanSize` rows at a time, until found.
 */
export async function findIndex<T>(
  fetchPage: (page: number, pageSize: number) => Promise<PageOf<T>>,
  matches: (row: T) => boolean,
  scanSize: number = MAX_PAGE_SIZE,
): Promise<number | null> {
  for (let page = 1; ; page += 1) {
    const found = await fetchPage(page, scanSize);
    const at = found.data.findIndex(matches);
    if (at >= 0) return (page - 1) * scanSize + at;
    if (found.data.length < scanSize || page * scanSize >= found.total) return null;
  }
}
