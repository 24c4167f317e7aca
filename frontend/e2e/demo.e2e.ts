// Scenario "demo": what a newcomer does after `revlink demo`: open the printed dashboard URL,
// sign in with the printed login, open Live, pick the tank level and watch it move.
import { expect, test } from "vitest";
import {
  distinctTexts,
  env,
  firstNumber,
  login,
  browserPerFile,
  shot,
  waitForAttribute,
} from "./support";

const browser = browserPerFile();

test("the demo's dashboard shows the tank level live", async () => {
  const { page } = browser;
  const sensor = env("E2E_LEVEL_SENSOR");
  const meter = env("E2E_POWER_SENSOR");
  await page.goto(env("E2E_DASHBOARD_URL"));
  await page.waitForURL((url) => url.pathname === "/login");
  await shot(page, "login");
  await login(page, env("E2E_EMAIL"), env("E2E_PASSWORD"));

  // The demo device is in the fleet and online.
  await page.getByTestId("nav-fleet").click();
  const row = page.getByTestId("device-row").filter({ hasText: "demo-revpi" });
  await waitForAttribute(row.getByTestId("device-online"), "data-online", "true");
  await shot(page, "fleet");

  await page.getByTestId("nav-live").click();
  await page.waitForURL((url) => url.pathname === "/live");
  const option = page.locator(`[data-testid="live-sensor-option"][data-sensor-id="${sensor}"]`);
  await option.check();
  // The option is labelled with the name the app declared for the field, so a newcomer can
  // find it.
  const labelled = page.getByLabel(/Tank level/);
  expect(await labelled.count()).toBeGreaterThan(0);
  // The simulated Modbus energy meter reaches the dashboard too, named as its instance
  // declares its channels.
  const power = page.locator(`[data-testid="live-sensor-option"][data-sensor-id="${meter}"]`);
  await power.check();
  expect(await page.getByLabel(/Active power/).count()).toBeGreaterThan(0);

  await waitForAttribute(page.getByTestId("connection-state"), "data-state", "live");
  const value = page.locator(`[data-testid="live-value"][data-sensor-id="${sensor}"]`);
  const seen = await distinctTexts(value, 3, 20_000);
  for (const text of seen) {
    const level = firstNumber(text);
    expect(level).toBeGreaterThanOrEqual(0);
    expect(level).toBeLessThanOrEqual(100);
  }
  const watts = page.locator(`[data-testid="live-value"][data-sensor-id="${meter}"]`);
  for (const text of await distinctTexts(watts, 2, 20_000)) {
    expect(text).toMatch(/\d W\b/); // the unit the meter's instance declares
  }
  await waitForAttribute(page.getByTestId("live-chart"), "data-painted", "true");
  await shot(page, "live");

  // The tank app's own UI: the level as the app shows it, and its setpoints as parameters.
  await page.getByTestId("nav-fleet").click();
  await row.locator("a").first().click();
  await page.getByTestId("device-apps-link").click();
  const tank = page.locator('[data-testid="app-card"][data-app-key="tank_level"]');
  const level = tank.locator('[data-testid="appui-element"][data-element-name="level"]');
  const levels = await distinctTexts(level.getByTestId("appui-value"), 2, 20_000);
  expect(levels.every((text) => firstNumber(text) >= 0 && firstNumber(text) <= 100)).toBe(true);
  const start = tank.locator('[data-element-name="tank_level_start_below"]');
  expect(await start.getByTestId("appui-param-input").inputValue()).toMatch(/^30/);
  await shot(page, "apps");

  expect(browser.pageErrors).toEqual([]);
});
