// Scenario "command": an operator sends {"speed": 42} on the pump channel, the cloud accepts
// it (202), the device's echo shows in the pump aggregate and the command is listed as
// delivered; pytest checks the device got it. The same command to a registered device that is
// not connected is kept: listed as pending, waiting for it.
import { expect, test } from "vitest";
import type { Page } from "playwright-core";
import { env, loginAsRole, browserPerFile, shot, waitForAttribute } from "./support";

const browser = browserPerFile();

async function sendCommand(page: Page, channel: string, payload: string): Promise<void> {
  await page.getByTestId("command-channel").fill(channel);
  await page.getByTestId("command-payload").fill(payload);
  await page.getByTestId("command-submit").click();
}

async function pumpAggregate(page: Page): Promise<unknown> {
  const text = await page
    .locator('[data-testid="channel-row"][data-channel="pump"]')
    .getByTestId("channel-aggregate")
    .textContent({ timeout: 5_000 });
  try {
    return JSON.parse(text ?? "");
  } catch {
    return text;
  }
}

test("a command reaches the device; an offline device refuses it", async () => {
  const { page } = browser;
  await page.goto(`/devices/${env("E2E_DEVICE_ID")}`);
  await loginAsRole(page);
  await page.waitForURL((url) => url.pathname === `/devices/${env("E2E_DEVICE_ID")}`);

  await sendCommand(page, "pump", '{"speed": 42}');
  const result = page.getByTestId("command-result");
  await waitForAttribute(result, "data-status", "202");
  await shot(page, "command-sent");

  // The device's subscriber publishes what it got as the pump aggregate; the page looks at
  // its channels again shortly after a 202 and shows it without a reload.
  await expect
    .poll(() => pumpAggregate(page), { timeout: 6_000, interval: 250 })
    .toEqual({ last_command: { speed: 42 } });
  const listed = page.getByTestId("device-command-row").first();
  await waitForAttribute(listed, "data-state", "delivered");
  await shot(page, "command-echoed");

  // A registered device that never connected: the command is kept for it, pending.
  await page.goto(`/devices/${env("E2E_OFFLINE_DEVICE_ID")}`);
  await expect
    .poll(() => page.getByTestId("device-online").first().getAttribute("data-online"))
    .toBe("false");
  await sendCommand(page, "pump", '{"speed": 42}');
  await waitForAttribute(page.getByTestId("command-result"), "data-status", "202");
  expect(await page.getByTestId("command-result").textContent()).toMatch(/kept until/i);
  const kept = page.getByTestId("device-command-row").first();
  await waitForAttribute(kept, "data-state", "pending");
  expect(await kept.getByTestId("device-command-state").textContent()).toBe("pending");
  await shot(page, "command-offline");

  expect(browser.pageErrors).toEqual([]);
});
