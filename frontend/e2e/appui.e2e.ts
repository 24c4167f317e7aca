// Scenario "appui": an operator works a device app's own UI (tests/e2e/ui_app.py, a pydoover
// 0.x-style tank monitor). Its variables, ranges and submodule show; "Refill" runs the app's
// callback on the device and the app's new state comes back; pressed while the device is
// offline it shows as pending and is applied once the device is back (pytest checks it ran
// once); an invalid capacity is refused naming the field and a valid one reaches the app.
import { expect, test } from "vitest";
import type { Locator, Page } from "playwright-core";
import {
  browserPerFile,
  env,
  horizontalOverflow,
  loginAsRole,
  shot,
  signal,
  waitForAnswer,
  waitForAttribute,
} from "./support";

const browser = browserPerFile();

const card = (page: Page): Locator =>
  page.locator('[data-testid="app-card"][data-app-key="tank_monitor"]');
const element = (page: Page, name: string): Locator =>
  card(page).locator(`[data-testid="appui-element"][data-element-name="${name}"]`);
const value = (page: Page, name: string): Promise<string> =>
  element(page, name)
    .getByTestId("appui-value")
    .first()
    .textContent()
    .then((text) => (text ?? "").trim());
const refill = (page: Page): Locator =>
  card(page).locator('[data-testid="appui-element"][data-element-type="uiAction"]').first();

async function lastEvent(page: Page): Promise<string> {
  return value(page, "last_event").catch(() => "");
}

test("an app's UI is shown and operated, online and offline, and its config edited", async () => {
  const { page } = browser;
  const deviceId = env("E2E_APPS_DEVICE_ID");
  await page.goto(`/devices/${deviceId}/apps`);
  await loginAsRole(page);
  await page.waitForURL((url) => url.pathname === `/devices/${deviceId}/apps`);

  // The app's elements, with their values, units and colour ranges.
  await expect.poll(() => card(page).count(), { timeout: 15_000 }).toBe(1);
  await expect.poll(() => card(page).locator("h2").textContent()).toBe("Tank Monitor");
  await expect.poll(() => value(page, "level"), { timeout: 10_000 }).toMatch(/^\d+(\.\d)?/);
  const range = element(page, "level").getByTestId("appui-range");
  expect(await range.count()).toBeGreaterThan(0);
  expect(await element(page, "pump").getAttribute("data-element-type")).toBe("uiSubmodule");
  expect(await refill(page).getByTestId("appui-action").textContent()).toMatch(/Refill/);
  await shot(page, "apps");

  // A press runs the app's callback on the device; its new state shows without a reload.
  await refill(page).getByTestId("appui-action").click();
  await expect.poll(() => lastEvent(page), { timeout: 15_000 }).toBe("refill 1");
  await expect.poll(() => refill(page).getByTestId("appui-pending").count()).toBe(0);
  await shot(page, "action-applied");

  // The device goes offline: a press is kept in the cloud and shown as pending.
  signal("go-offline");
  await waitForAnswer("go-offline", 60_000);
  await expect.poll(() => page.getByTestId("apps-offline").count(), { timeout: 10_000 }).toBe(1);
  await refill(page).getByTestId("appui-action").click();
  const badge = refill(page).getByTestId("appui-pending");
  await waitForAttribute(badge, "data-state", "pending");
  await new Promise((resolve) => setTimeout(resolve, 2_500)); // it stays pending meanwhile
  expect(await badge.getAttribute("data-state")).toBe("pending");
  expect(await lastEvent(page)).toBe("refill 1");
  await shot(page, "action-pending-offline");

  // Back online: delivered, run once, applied, and the badge goes.
  signal("pressed-offline");
  await waitForAnswer("pressed-offline", 60_000);
  await expect.poll(() => page.getByTestId("apps-offline").count(), { timeout: 10_000 }).toBe(0);
  await expect.poll(() => lastEvent(page), { timeout: 30_000 }).toBe("refill 2");
  await expect.poll(() => badge.count(), { timeout: 15_000 }).toBe(0);
  await shot(page, "action-applied-after-reconnect");

  // The app's config, in a form made from its schema: the cloud's limits hold, by field.
  await card(page).getByTestId("app-settings-toggle").click();
  const capacity = card(page).locator('[data-testid="app-config-field"][data-path="capacity"]');
  await capacity.locator("input").fill("99999");
  await card(page).getByTestId("app-config-save").click();
  await expect
    .poll(() => capacity.locator(".form-error").textContent(), { timeout: 10_000 })
    .toMatch(/5000/);
  await shot(page, "config-invalid");
  await capacity.locator("input").fill("1500");
  await card(page).getByTestId("app-config-save").click();
  await expect.poll(() => lastEvent(page), { timeout: 30_000 }).toBe("capacity 1500 L");
  await expect
    .poll(() => page.getByTestId("apps-alert").first().textContent(), { timeout: 15_000 })
    .toContain("Capacity set to 1500 L");
  await shot(page, "config-applied");

  // The slider by keyboard: the pump starts, as the app reports in its submodule.
  const slider = card(page).getByTestId("appui-slider").first();
  await slider.focus();
  await page.keyboard.press("ArrowRight");
  await expect.poll(() => value(page, "pump_state"), { timeout: 20_000 }).toBe("running");

  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, "apps-phone");
  expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
  expect(browser.pageErrors).toEqual([]);
});
