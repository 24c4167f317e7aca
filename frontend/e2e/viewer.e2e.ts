// Scenario "viewer": a viewer sees every page but no write control on any of them, and the
// user administration is out of reach.
import { expect, test } from "vitest";
import { env, loginAsRole, browserPerFile, shot } from "./support";

const browser = browserPerFile();

// Write controls by test id prefix or exact id (see the UI contract).
const WRITE_CONTROLS = [
  '[data-testid^="device-create-"]',
  '[data-testid="device-token"]',
  '[data-testid="device-revoke"]',
  '[data-testid^="command-"]',
  '[data-testid="sensor-edit"]',
  '[data-testid^="sensor-"][data-testid$="-input"]',
  '[data-testid="sensor-save"]',
  '[data-testid^="user-create-"]',
  '[data-testid="nav-users"]',
].join(", ");

test("no write controls for a viewer, and no user administration", async () => {
  const { page } = browser;
  const deviceId = env("E2E_DEVICE_ID");
  await page.goto("/fleet");
  await loginAsRole(page);
  expect((await page.getByTestId("current-user").textContent())?.toLowerCase()).toContain("viewer");

  // Each page is checked once its content is there, so an absent control means "not shown",
  // not "not rendered yet".
  const pages: [string, string, string][] = [
    ["fleet", "/fleet", `[data-testid="device-row"][data-device-id="${deviceId}"]`],
    ["device", `/devices/${deviceId}`, '[data-testid="sensor-row"]'],
    ["live", "/live", '[data-testid="live-sensor-option"]'],
    ["history", "/history", '[data-testid="history-sensor"]'],
    ["sensors", "/sensors", '[data-testid="sensor-row"]'],
  ];
  for (const [name, path, content] of pages) {
    await page.goto(path);
    await page.locator(content).first().waitFor();
    await page.getByTestId("nav-fleet").waitFor();
    // Give late-rendering parts (role checks after /auth/me) a moment to appear, if they would.
    await page.waitForTimeout(300);
    const found = await page
      .locator(WRITE_CONTROLS)
      .evaluateAll((els) => els.map((el) => el.getAttribute("data-testid")));
    expect(found, `write controls on ${path}`).toEqual([]);
    await shot(page, `viewer-${name}`);
  }

  // /users is not reachable: no user list or form, whether redirected or refused.
  await page.goto("/users");
  await page.waitForLoadState("networkidle");
  await page.waitForTimeout(300);
  expect(
    await page.locator('[data-testid="user-row"], [data-testid^="user-create-"]').count(),
  ).toBe(0);
  const landed = new URL(page.url()).pathname;
  const refused = await page.getByTestId("view-error").isVisible();
  expect(landed !== "/users" || refused, `viewer on /users ended at ${landed}`).toBe(true);
  await shot(page, "viewer-users");

  expect(browser.pageErrors).toEqual([]);
});
