// Scenario "admin": what only admins and operators do. A device created here gets its token
// shown once (pytest connects a real agent with it), is revoked here (pytest sees the agent
// cut off); a sensor's unit is edited and shown with its live value; an account is created
// (pytest signs in with it).
import { expect, test } from "vitest";
import type { Page } from "playwright-core";
import {
  browserPerFile,
  env,
  loginAsRole,
  shot,
  signal,
  waitForAnswer,
  waitForAttribute,
} from "./support";

const browser = browserPerFile();

function rowOf(page: Page, deviceId: string) {
  return page.locator(`[data-testid="device-row"][data-device-id="${deviceId}"]`);
}

test("create a device, see it connect with the shown token, revoke it", async () => {
  const { page } = browser;
  const name = env("E2E_NEW_DEVICE_NAME");
  await page.goto("/fleet");
  await loginAsRole(page);
  await page.getByTestId("device-create-name").fill(name);
  await page.getByTestId("device-create-submit").click();
  const token = (await page.getByTestId("device-token").textContent())?.trim() ?? "";
  expect(token.length).toBeGreaterThan(20);
  await shot(page, "device-created");
  const row = page.getByTestId("device-row").filter({ hasText: name });
  const deviceId = (await row.getAttribute("data-device-id")) ?? "";
  expect(deviceId).not.toBe("");

  signal("device-created", { token, deviceId });
  await waitForAnswer("device-created", 40_000);
  // The fleet refreshes every 3 s.
  await waitForAttribute(rowOf(page, deviceId).getByTestId("device-online"), "data-online", "true");

  // Shown once: after a reload the token is gone from the page.
  await page.reload();
  await rowOf(page, deviceId).waitFor();
  expect(await page.getByTestId("device-token").count()).toBe(0);

  page.once("dialog", (dialog) => void dialog.accept());
  await rowOf(page, deviceId).getByTestId("device-revoke").click();
  await expect
    .poll(() => rowOf(page, deviceId).textContent(), { timeout: 10_000 })
    .toMatch(/revoked/i);
  expect(await rowOf(page, deviceId).getByTestId("device-revoke").count()).toBe(0);
  await shot(page, "device-revoked");
  signal("device-revoked");
  await waitForAnswer("device-revoked", 30_000);
});

test("an operator's sensor edit shows on the device page with the live value", async () => {
  const { page } = browser;
  const sensor = env("E2E_TEMPERATURE_SENSOR");
  await page.goto("/sensors");
  await page.getByTestId("sensor-search").fill("tank.temperature");
  const row = page.locator(`[data-testid="sensor-row"][data-sensor-id="${sensor}"]`);
  await row.getByTestId("sensor-edit").click();
  await row.getByTestId("sensor-unit-input").fill("degC");
  await row.getByTestId("sensor-min-input").fill("0");
  await row.getByTestId("sensor-max-input").fill("60");
  await row.getByTestId("sensor-save").click();
  await expect.poll(() => row.textContent(), { timeout: 10_000 }).toContain("degC");
  expect(await row.getByTestId("sensor-unit-input").count()).toBe(0);
  await shot(page, "sensor-edited");

  await page.goto(`/devices/${env("E2E_DEVICE_ID")}`);
  const value = page.locator(`[data-testid="sensor-row"][data-sensor-id="${sensor}"]`);
  await expect
    .poll(() => value.getByTestId("sensor-value").textContent(), { timeout: 10_000 })
    .toMatch(/\d\s*degC/);
});

test("an admin creates an account", async () => {
  const { page } = browser;
  const email = env("E2E_NEW_USER_EMAIL");
  await page.goto("/users");
  await page.getByTestId("user-create-email").fill(email);
  await page.getByTestId("user-create-password").fill("short");
  await page.getByTestId("user-create-submit").click();
  await expect
    .poll(() => page.getByTestId("user-create-error").textContent(), { timeout: 10_000 })
    .toMatch(/8/);

  await page.getByTestId("user-create-password").fill(env("E2E_NEW_USER_PASSWORD"));
  await page.getByTestId("user-create-role").selectOption("operator");
  await page.getByTestId("user-create-submit").click();
  const created = page.locator(`[data-testid="user-row"][data-user-email="${email}"]`);
  await created.waitFor();
  expect(await created.textContent()).toMatch(/operator/i);
  await shot(page, "user-created");
  expect(browser.pageErrors).toEqual([]);
});
