// Scenario "device": the device page shows its channels (latest message and aggregate as
// JSON) and its sensors with values that change on screen as the agent publishes.
import { expect, test } from "vitest";
import type { Locator } from "playwright-core";
import { distinctTexts, env, firstNumber, loginAsRole, browserPerFile, shot } from "./support";

const browser = browserPerFile();

async function json(locator: Locator): Promise<Record<string, unknown>> {
  const text = (await locator.textContent()) ?? "";
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`not JSON: ${JSON.stringify(text)}`);
  }
}

test("channels with latest and aggregate JSON, live sensor values", async () => {
  const { page } = browser;
  const deviceId = env("E2E_DEVICE_ID");
  await page.goto("/fleet");
  await loginAsRole(page);

  // From the fleet, the device's name links to its page.
  const row = page.locator(`[data-testid="device-row"][data-device-id="${deviceId}"]`);
  await row.getByRole("link", { name: env("E2E_DEVICE_NAME") }).click();
  await page.waitForURL((url) => url.pathname === `/devices/${deviceId}`);
  await expect
    .poll(() => page.getByTestId("device-name").textContent())
    .toContain(env("E2E_DEVICE_NAME"));
  await expect
    .poll(() => page.getByTestId("device-online").first().getAttribute("data-online"))
    .toBe("true");

  // Channels: the tank's latest message and aggregate, the pump's aggregate.
  const tank = page.locator('[data-testid="channel-row"][data-channel="tank"]');
  await tank.getByTestId("channel-latest").waitFor();
  const latest = await json(tank.getByTestId("channel-latest"));
  expect(typeof latest.level).toBe("number");
  expect(typeof latest.temperature).toBe("number");
  const aggregate = await json(tank.getByTestId("channel-aggregate"));
  expect(aggregate.mode).toBe("auto");
  expect(typeof aggregate.level).toBe("number");
  const pump = page.locator('[data-testid="channel-row"][data-channel="pump"]');
  expect(await json(pump.getByTestId("channel-aggregate"))).toHaveProperty("last_command");

  // Sensors: the tank level's value is a number and changes while we watch.
  const level = page
    .locator(`[data-testid="sensor-row"][data-sensor-id="${env("E2E_LEVEL_SENSOR")}"]`)
    .getByTestId("sensor-value");
  await level.waitFor();
  const values = await distinctTexts(level, 3, 10_000);
  for (const value of values) expect(firstNumber(value)).not.toBeNaN();
  const temperature = page
    .locator(`[data-testid="sensor-row"][data-sensor-id="${env("E2E_TEMPERATURE_SENSOR")}"]`)
    .getByTestId("sensor-value");
  expect(firstNumber(await temperature.textContent())).not.toBeNaN();
  await shot(page, "device");

  expect(browser.pageErrors).toEqual([]);
});
