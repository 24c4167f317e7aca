// Scenario "events": a viewer opens the events page, a device (driven by the pytest side)
// comes online and goes offline, both entries appear newest first, and the viewer marks the
// offline one read with the keyboard; the unread filter then leaves it out. Phone width too.
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

test("a viewer sees a device come and go and marks an entry read", async () => {
  const { page } = browser;
  const deviceId = env("E2E_EVENTS_DEVICE_ID");
  await page.goto("/fleet");
  await loginAsRole(page);
  await page.getByTestId("nav-events").click();
  await page.waitForURL((url) => url.pathname === "/events");
  await page.getByTestId("events-filters").waitFor();
  await shot(page, "events-start");

  signal("ready");
  await waitForAnswer("ready", 60_000);

  const rows = page.locator(`[data-testid="event-row"][data-device-id="${deviceId}"]`);
  // The page polls; Refresh (by keyboard) asks at once.
  await page.getByTestId("events-refresh").focus();
  await page.keyboard.press("Enter");
  await expect
    .poll(() => rows.evaluateAll((els) => els.map((el) => el.getAttribute("data-kind"))), {
      timeout: 20_000,
      interval: 250,
    })
    .toEqual(["device.offline", "device.online"]);
  const offline = rows.first();
  expect(await offline.getAttribute("data-status")).toBe("unread");
  expect(await offline.getByTestId("event-content").textContent()).toContain("went offline");
  await shot(page, "events-listed");

  const publicId = await offline.getAttribute("data-event-id");
  await offline.getByTestId("event-mark-read").focus();
  await page.keyboard.press("Enter");
  await expect.poll(() => offline.getAttribute("data-status")).toBe("read");
  expect(await offline.getByTestId("event-read").count()).toBe(1);
  await shot(page, "events-marked");

  // Unread only (keyboard: Space toggles the checkbox): the read entry leaves the list.
  await page.getByTestId("events-unread-only").focus();
  await page.keyboard.press("Space");
  await expect
    .poll(() => rows.evaluateAll((els) => els.map((el) => el.getAttribute("data-kind"))))
    .toEqual(["device.online"]);

  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(200);
  expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
  await shot(page, "events-phone");
  expect(browser.pageErrors).toEqual([]);
  signal("marked", { public_id: publicId });
});
