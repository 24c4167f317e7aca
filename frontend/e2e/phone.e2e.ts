// Scenario "phone": at 390×844 in dark mode, the pages fit the width (no horizontal scroll)
// and are dark; the theme toggle switches to a light background.
import { expect, test } from "vitest";
import type { Page } from "playwright-core";
import {
  env,
  horizontalOverflow,
  localInputValue,
  loginAsRole,
  browserPerFile,
  shot,
  waitForAttribute,
} from "./support";

const browser = browserPerFile({
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
  colorScheme: "dark",
});

/** Relative luminance (0 black … 1 white) of the first opaque background behind the middle
 * of the screen. */
async function backgroundLuminance(page: Page): Promise<number> {
  return page.evaluate(() => {
    let el: Element | null = document.elementFromPoint(window.innerWidth / 2, 400);
    while (el) {
      const match = /rgba?\(([^)]+)\)/.exec(getComputedStyle(el).backgroundColor);
      const [r = 0, g = 0, b = 0, a = 1] = (match?.[1] ?? "0,0,0,0").split(",").map(Number);
      if (match && a > 0.5) return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
      el = el.parentElement;
    }
    return Number.NaN;
  });
}

test("fleet, device, live and history fit a phone in dark mode", async () => {
  const { page } = browser;
  const sensor = env("E2E_LEVEL_SENSOR");
  const deviceId = env("E2E_DEVICE_ID");
  await page.goto("/fleet");
  await loginAsRole(page);

  const check = async (name: string) => {
    expect(await horizontalOverflow(page), `horizontal overflow on ${name}`).toBeLessThanOrEqual(0);
    expect(await backgroundLuminance(page), `background of ${name} in dark mode`).toBeLessThan(
      0.35,
    );
    await shot(page, name);
  };

  await page.goto("/fleet");
  await page.locator(`[data-testid="device-row"][data-device-id="${deviceId}"]`).waitFor();
  await check("fleet");

  await page.goto(`/devices/${deviceId}`);
  await page.locator(`[data-testid="sensor-row"][data-sensor-id="${sensor}"]`).waitFor();
  await check("device");

  await page.goto(`/live?sensor=${sensor}`);
  await waitForAttribute(page.getByTestId("connection-state"), "data-state", "live");
  await page.locator(`[data-testid="live-value"][data-sensor-id="${sensor}"]`).waitFor();
  await waitForAttribute(page.getByTestId("live-chart"), "data-painted", "true");
  await check("live");

  const start = await localInputValue(page, new Date(Date.now() - 10 * 60_000));
  await page.goto(`/history`);
  await page.getByTestId("history-sensor").selectOption(sensor);
  await page.getByTestId("history-start").fill(start);
  await page
    .getByTestId("history-end")
    .fill(await localInputValue(page, new Date(Date.now() + 120_000)));
  await page.getByTestId("history-load").click();
  await waitForAttribute(page.getByTestId("history-chart"), "data-painted", "true");
  await check("history");

  // The theme toggle overrides the system's dark preference.
  // At phone width the navigation (with the toggle) is behind the menu button.
  const dark = await backgroundLuminance(page);
  await page.getByTestId("nav-menu").click();
  await shot(page, "history-menu");
  await page.getByTestId("theme-toggle").click();
  await expect.poll(() => backgroundLuminance(page)).toBeGreaterThan(dark + 0.3);
  await shot(page, "history-toggled");

  expect(browser.pageErrors).toEqual([]);
});
