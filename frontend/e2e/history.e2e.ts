// Scenario "history": choose a sensor and a range, the chart paints, the count shows, and the
// CSV export downloads that sensor's rows; a link with the range in its query paints directly.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import {
  env,
  firstNumber,
  localInputValue,
  loginAsRole,
  numericAttribute,
  browserPerFile,
  outputDir,
  shot,
  waitForAttribute,
} from "./support";

const browser = browserPerFile();

const CSV_HEADER = "timestamp,value,sensor_public_id,sensor_name,unit";

test("history chart, count and CSV export of the shown range", async () => {
  const { page } = browser;
  const sensor = env("E2E_LEVEL_SENSOR");
  await page.goto("/fleet");
  await loginAsRole(page);
  await page.getByTestId("nav-history").click();
  await page.waitForURL((url) => url.pathname === "/history");

  // datetime-local inputs have minute precision: start a quarter of an hour back, end in the
  // next minutes, so every point the device sent so far lies in the range.
  const start = new Date(Date.now() - 15 * 60_000);
  const end = new Date(Date.now() + 3 * 60_000);
  await page.getByTestId("history-sensor").selectOption(sensor);
  await page.getByTestId("history-start").fill(await localInputValue(page, start));
  await page.getByTestId("history-end").fill(await localInputValue(page, end));
  await page.getByTestId("history-load").click();

  const chart = page.getByTestId("history-chart");
  await waitForAttribute(chart, "data-painted", "true");
  expect(await numericAttribute(chart, "data-points")).toBeGreaterThan(5);
  const shown = firstNumber(await page.getByTestId("history-count").textContent());
  expect(shown).toBeGreaterThan(5);
  await shot(page, "history");

  // Export: a CSV download of this sensor in this range.
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByTestId("history-export").click(),
  ]);
  expect(download.suggestedFilename()).toMatch(/\.csv$/);
  const csv = readFileSync(await download.path(), "utf8");
  writeFileSync(join(outputDir(), "export.csv"), csv);
  const [header, ...rows] = csv.trimEnd().split(/\r?\n/);
  expect(header).toBe(CSV_HEADER);
  // The device keeps publishing into the range, so the export has at least what was shown.
  expect(rows.length).toBeGreaterThanOrEqual(shown);
  const low = Math.floor(start.getTime() / 60_000) * 60_000;
  for (const row of rows) {
    const [timestamp = "", value = "", publicId, name] = row.split(",");
    expect(publicId).toBe(sensor);
    expect(name).toBe("tank.level");
    expect(Number.isFinite(Number(value)) && value !== "").toBe(true);
    expect(Date.parse(timestamp)).toBeGreaterThanOrEqual(low);
  }

  // The range is in the URL: opening it paints the same chart without touching the form.
  const url = new URL(page.url());
  expect(url.searchParams.get("sensor")).toBe(sensor);
  expect(url.searchParams.get("start")).toBeTruthy();
  await page.goto("/fleet");
  await page.goto(url.pathname + url.search);
  await waitForAttribute(page.getByTestId("history-chart"), "data-painted", "true");
  expect(await page.getByTestId("history-sensor").inputValue()).toBe(sensor);
  expect(await numericAttribute(page.getByTestId("history-chart"), "data-points")).toBeGreaterThan(
    5,
  );

  expect(browser.pageErrors).toEqual([]);
});
