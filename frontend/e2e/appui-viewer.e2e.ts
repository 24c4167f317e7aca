// Scenario "appui-viewer": a viewer sees a device app's UI and values, but every control is
// disabled and the page says why.
import { expect, test } from "vitest";
import { browserPerFile, env, loginAsRole, shot } from "./support";

const browser = browserPerFile();

test("a viewer sees an app's UI without controls", async () => {
  const { page } = browser;
  const deviceId = env("E2E_APPS_DEVICE_ID");
  await page.goto(`/devices/${deviceId}/apps`);
  await loginAsRole(page);
  const card = page.locator('[data-testid="app-card"][data-app-key="tank_monitor"]');
  await expect.poll(() => card.count(), { timeout: 15_000 }).toBe(1);
  await expect.poll(() => card.getByTestId("apps-viewer-hint").count()).toBeGreaterThan(0);
  const action = card.getByTestId("appui-action").first();
  expect(await action.isDisabled()).toBe(true);
  expect(await card.getByTestId("appui-slider").first().isDisabled()).toBe(true);
  await shot(page, "viewer");
  expect(browser.pageErrors).toEqual([]);
});
