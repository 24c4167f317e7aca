// Scenario "plugins-viewer": a viewer opens a device's plugin instances from a link, sees
// them and their channels without any control to change them, and sees a change an admin
// makes meanwhile without reloading; then the WebMACS controllers' instances. Phone width too.
import { expect, test } from "vitest";
import {
  browserPerFile,
  env,
  horizontalOverflow,
  loginAsRole,
  shot,
  signal,
  waitForAnswer,
} from "./support";

const browser = browserPerFile();

test("a viewer sees the plugin instances read-only, and how they change", async () => {
  const { page } = browser;
  const deviceId = env("E2E_PLUGIN_DEVICE_ID");
  const name = env("E2E_PLUGIN_NAME");
  await page.goto(`/plugins?device=${deviceId}`);
  await loginAsRole(page);
  await page.waitForURL((url) => url.pathname === "/plugins");
  const row = page.locator(`[data-testid="plugin-row"][data-name="${name}"]`);
  await row.waitFor();
  expect(await page.getByLabel("Runs on").inputValue()).toBe(deviceId);
  expect(await page.getByTestId("plugins-read-only").textContent()).toContain("Only admins");
  expect(await page.getByTestId("plugin-form").count()).toBe(0);
  expect(await row.getAttribute("data-enabled")).toBe("true");
  expect(await row.getAttribute("data-status")).toBe("inactive");
  expect(await row.getAttribute("data-delivery")).toBe("pending");
  for (const control of ["plugin-toggle", "plugin-delete", "plugin-delete-confirm"]) {
    expect(await page.getByTestId(control).count()).toBe(0);
  }

  // Its channels: the mapping shows, with nothing to change it.
  await row.getByTestId("plugin-channels-toggle").click();
  const channels = page.getByTestId("plugin-channels");
  const channel = channels.locator('[data-testid="plugin-channel-row"][data-channel-id="temp"]');
  await channel.waitFor();
  expect(await channel.getByTestId("plugin-channel-event").textContent()).toContain(
    "Mapped to no event.",
  );
  expect(await channels.locator("tbody select, tbody button").count()).toBe(0);
  await shot(page, "plugins-viewer");

  // An admin disables it meanwhile: the page shows it without a reload.
  signal("viewing");
  await waitForAnswer("changed", 30_000);
  await expect
    .poll(() => row.getAttribute("data-enabled"), { timeout: 10_000, interval: 200 })
    .toBe("false");

  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(200);
  expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, "plugins-viewer-phone");
  await page.setViewportSize({ width: 1280, height: 860 });

  // The controllers' instances: no device, so no delivery.
  await page.getByLabel("Runs on").selectOption("controllers");
  await page.waitForURL((url) => !url.searchParams.has("device"));
  const controller = page.locator(
    `[data-testid="plugin-row"][data-name="${env("E2E_CONTROLLER_NAME")}"]`,
  );
  await controller.waitFor();
  expect(await controller.getAttribute("data-delivery")).toBe("");
  expect(await page.getByTestId("plugin-delivery").count()).toBe(0);
  expect(await page.getByTestId("plugin-toggle").count()).toBe(0);
  await shot(page, "plugins-viewer-controllers");
  expect(browser.pageErrors).toEqual([]);
});
