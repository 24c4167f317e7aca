// Scenario "experiments": an operator creates and starts an experiment with the keyboard, a
// second one is refused while it runs, stops it and downloads its CSV (the streaming device's
// rows); a viewer at phone width sees the list and the CSV links but no write control.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import { browserPerFile, env, login, loginAsRole, openBrowser, outputDir, shot } from "./support";

const browser = browserPerFile();

const CSV_HEADER = "timestamp,event_name,event_public_id,value,unit,datapoint_public_id";
const WRITE_CONTROLS =
  '[data-testid="experiment-form"], [data-testid="experiment-name"], ' +
  '[data-testid="experiment-create"], [data-testid="experiment-start"], ' +
  '[data-testid="experiment-stop"]';

test("an operator creates, starts, stops and exports an experiment", async () => {
  const { page } = browser;
  const name = env("E2E_EXPERIMENT_NAME");
  const sensors = [env("E2E_LEVEL_SENSOR"), env("E2E_TEMPERATURE_SENSOR")];
  await page.goto("/fleet");
  await loginAsRole(page);
  await page.getByTestId("nav-experiments").click();
  await page.waitForURL((url) => url.pathname === "/experiments");
  await page.getByTestId("experiment-form").waitFor();
  await shot(page, "experiments-start");

  // Keyboard only: type the name, Enter submits ("Start now" is on by default).
  await page.getByTestId("experiment-name").focus();
  await page.keyboard.type(name);
  await page.keyboard.press("Enter");
  const row = page.locator('[data-testid="experiment-row"]', { hasText: name });
  await expect.poll(() => row.getAttribute("data-state")).toBe("running");
  expect(await row.getByTestId("experiment-state").textContent()).toBe("running");
  expect(await row.getByTestId("experiment-started").locator("time").count()).toBe(1);
  expect((await row.getByTestId("experiment-stopped").textContent())?.trim()).toBe("—");
  expect(await page.getByTestId("experiment-running-banner").textContent()).toContain(name);
  await shot(page, "experiments-running");

  // A second one is refused while this one runs, and the answer names the running one.
  await page.getByTestId("experiment-name").fill(`${name}-second`);
  await page.getByTestId("experiment-create").click();
  const refused = page.getByTestId("experiment-create-error");
  await refused.waitFor();
  expect(await refused.textContent()).toContain(`experiment '${name}'`);
  expect(await refused.textContent()).toContain("is running");
  expect(await page.locator('[data-testid="experiment-row"]', { hasText: "-second" }).count()).toBe(
    0,
  );
  await shot(page, "experiments-refused");

  // Let the device's datapoints arrive while it runs, then stop it with the keyboard.
  await page.waitForTimeout(2500);
  await row.getByTestId("experiment-stop").focus();
  await page.keyboard.press("Enter");
  await expect.poll(() => row.getAttribute("data-state")).toBe("stopped");
  expect(await row.getByTestId("experiment-stopped").locator("time").count()).toBe(1);
  expect(await row.getByTestId("experiment-stop").count()).toBe(0);
  expect(await page.getByTestId("experiment-running-banner").count()).toBe(0);
  await shot(page, "experiments-stopped");

  const [download] = await Promise.all([
    page.waitForEvent("download"),
    row.getByTestId("experiment-export").click(),
  ]);
  expect(download.suggestedFilename()).toMatch(/^experiment_.+_[0-9a-f]{8}\.csv$/);
  const csv = readFileSync(await download.path(), "utf8");
  writeFileSync(join(outputDir(), "experiment.csv"), csv);
  const [header, ...rows] = csv.trimEnd().split(/\r?\n/);
  expect(header).toBe(CSV_HEADER);
  expect(rows.length).toBeGreaterThan(0);
  for (const line of rows) {
    const [timestamp = "", eventName, publicId = "", value = ""] = line.split(",");
    expect(sensors).toContain(publicId);
    expect(["tank.level", "tank.temperature"]).toContain(eventName);
    expect(Number.isFinite(Number(value)) && value !== "").toBe(true);
    expect(Number.isNaN(Date.parse(timestamp))).toBe(false);
  }
  expect(await page.getByTestId("experiment-notice").textContent()).toContain("Downloaded");
  await shot(page, "experiments-exported");
  expect(browser.pageErrors).toEqual([]);
});

test("a viewer at phone width sees experiments and CSV links, no write controls", async () => {
  const viewer = await openBrowser({ viewport: { width: 390, height: 844 } });
  try {
    const { page } = viewer;
    await page.goto("/experiments");
    await login(page, env("E2E_VIEWER_EMAIL"), env("E2E_VIEWER_PASSWORD"));
    await page.waitForURL((url) => url.pathname === "/experiments");
    const row = page.locator('[data-testid="experiment-row"]', {
      hasText: env("E2E_EXPERIMENT_NAME"),
    });
    await row.waitFor();
    await page.waitForTimeout(300); // role-dependent parts would have appeared by now
    expect(await page.locator(WRITE_CONTROLS).count()).toBe(0);
    expect(await row.getByTestId("experiment-export").count()).toBe(1);
    expect(await row.getAttribute("data-state")).toBe("stopped");
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(overflow, "horizontal scroll at phone width").toBeLessThanOrEqual(0);
    await shot(page, "experiments-viewer-phone");
    expect(viewer.pageErrors).toEqual([]);
  } finally {
    await viewer.close();
  }
});
