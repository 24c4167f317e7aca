// Scenario "people": at 1366×768 every page fits and works from the keyboard alone (a visible
// focus ring, the skip link, the nav, a sensor checkbox), and an API error shows its message.
import { expect, test } from "vitest";
import type { Page } from "playwright-core";
import { browserPerFile, env, horizontalOverflow, shot } from "./support";

const browser = browserPerFile({ viewport: { width: 1366, height: 768 } });

/** The focused element's test id (or tag) and whether it draws a focus outline. */
async function focused(page: Page): Promise<{ id: string; outlined: boolean }> {
  return page.evaluate(() => {
    const element = document.activeElement as HTMLElement | null;
    if (!element) return { id: "", outlined: false };
    const style = getComputedStyle(element);
    return {
      id: element.dataset.testid ?? element.className ?? element.tagName,
      outlined: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0,
    };
  });
}

/** Press Tab until the element with ``testId`` has the focus; fail after ``limit`` presses. */
async function tabTo(page: Page, testId: string, limit = 40): Promise<void> {
  for (let presses = 0; presses < limit; presses += 1) {
    await page.keyboard.press("Tab");
    const now = await focused(page);
    if (now.id === testId) {
      expect(now.outlined, `${testId} shows no focus ring`).toBe(true);
      return;
    }
  }
  throw new Error(`${testId} not reached with ${limit} presses of Tab`);
}

test("sign in, move around and choose a sensor with the keyboard only", async () => {
  const { page } = browser;
  await page.goto("/fleet");
  await page.waitForURL((url) => url.pathname === "/login");
  await tabTo(page, "login-email");
  await page.keyboard.type(env("E2E_EMAIL"));
  await tabTo(page, "login-password");
  await page.keyboard.type(env("E2E_PASSWORD"));
  await page.keyboard.press("Enter");
  await page.waitForURL((url) => url.pathname === "/fleet");

  // The skip link is the first stop and takes the focus past the navigation.
  await page.keyboard.press("Tab");
  expect(await page.evaluate(() => document.activeElement?.textContent?.trim())).toMatch(/skip/i);
  await page.keyboard.press("Enter");
  await expect.poll(() => page.evaluate(() => location.hash)).toBe("#main");

  await page.goto("/fleet");
  await page.getByTestId("device-row").first().waitFor();
  await tabTo(page, "nav-live");
  await page.keyboard.press("Enter");
  await page.waitForURL((url) => url.pathname === "/live");
  const option = page.locator(
    `[data-testid="live-sensor-option"][data-sensor-id="${env("E2E_LEVEL_SENSOR")}"]`,
  );
  await option.waitFor();
  await option.focus();
  await page.keyboard.press("Space");
  await expect.poll(() => option.isChecked()).toBe(true);
  expect(new URL(page.url()).searchParams.getAll("sensor")).toContain(env("E2E_LEVEL_SENSOR"));
  await shot(page, "live-by-keyboard");
});

test("every page fits 1366×768 without scrolling sideways", async () => {
  const { page } = browser;
  const pages = ["/fleet", `/devices/${env("E2E_DEVICE_ID")}`, "/live", "/history", "/sensors"];
  for (const path of pages) {
    await page.goto(path);
    await page.locator("main").waitFor();
    await page.waitForLoadState("networkidle");
    expect(await horizontalOverflow(page), `${path} overflows`).toBeLessThanOrEqual(0);
    await shot(page, path.split("/")[1] ?? "root");
  }
});

test("an API error is shown with its message", async () => {
  const { page } = browser;
  const missing = "00000000-0000-4000-8000-000000000000";
  await page.goto(`/devices/${missing}`);
  const error = page.getByTestId("view-error").first();
  await error.waitFor();
  expect(await error.textContent()).toContain(`no device ${missing}`);
  await shot(page, "error-state");
  expect(browser.pageErrors).toEqual([]);
});
