import { describe, expect, it, vi } from "vitest";
import {
  clampPage,
  findIndex,
  hasPages,
  lastPage,
  pageBefore,
  pageOfIndex,
  pageSummary,
  type PageOf,
} from "./paging";

describe("counting pages", () => {
  it("counts pages", () => {
    expect(lastPage(0, 20)).toBe(1);
    expect(lastPage(20, 20)).toBe(1);
    expect(lastPage(21, 20)).toBe(2);
    expect(pageSummary(2, 20, 45, 20)).toBe("Showing 21–40 of 45.");
    expect(pageSummary(3, 20, 45, 5)).toBe("Showing 41–45 of 45.");
  });

  it("says so when a page has no rows", () => {
    expect(pageSummary(3, 20, 40, 0)).toBe("None of 40 on this page.");
  });

  it("keeps a page within the pages there are", () => {
    expect(clampPage(0, 3)).toBe(1);
    expect(clampPage(2, 3)).toBe(2);
    expect(clampPage(9, 3)).toBe(3);
    expect(clampPage(2, 0)).toBe(1);
  });

  it("finds the page of a row", () => {
    expect(pageOfIndex(0, 20)).toBe(1);
    expect(pageOfIndex(19, 20)).toBe(1);
    expect(pageOfIndex(20, 20)).toBe(2);
    expect(pageOfIndex(45, 20)).toBe(3);
  });

  it("shows the pager for more than one page, or past the first", () => {
    expect(hasPages(1, 1)).toBe(false);
    expect(hasPages(1, 2)).toBe(true);
    expect(hasPages(2, 1)).toBe(true);
  });

  it("steps back from a page whose last row went", () => {
    expect(pageBefore(3, 40, 20)).toBe(2);
    // Others deleted more meanwhile: the last page there is now.
    expect(pageBefore(3, 5, 20)).toBe(1);
    expect(pageBefore(1, 0, 20)).toBeNull();
  });
});

describe("findIndex", () => {
  const rows = Array.from({ length: 230 }, (_, i) => `r${i}`);
  const fetchPage = vi.fn(async (page: number, pageSize: number): Promise<PageOf<string>> => ({
    page,
    page_size: pageSize,
    total: rows.length,
    data: rows.slice((page - 1) * pageSize, page * pageSize),
  }));

  it("asks page by page until it finds the row", async () => {
    fetchPage.mockClear();
    expect(await findIndex(fetchPage, (r) => r === "r0")).toBe(0);
    expect(fetchPage).toHaveBeenCalledTimes(1);
    expect(fetchPage).toHaveBeenLastCalledWith(1, 100);

    fetchPage.mockClear();
    expect(await findIndex(fetchPage, (r) => r === "r215")).toBe(215);
    expect(fetchPage).toHaveBeenCalledTimes(3);
    expect(fetchPage).toHaveBeenLastCalledWith(3, 100);
  });

  it("stops after the last page when no row matches", async () => {
    fetchPage.mockClear();
    expect(await findIndex(fetchPage, (r) => r === "gone", 50)).toBeNull();
    expect(fetchPage).toHaveBeenCalledTimes(5);
  });

  it("stops on an empty list", async () => {
    const empty = vi.fn(async () => ({ page: 1, page_size: 100, total: 0, data: [] }));
    expect(await findIndex(empty, () => true)).toBeNull();
    expect(empty).toHaveBeenCalledTimes(1);
  });
});
