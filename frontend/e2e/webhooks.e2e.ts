// Scenario "webhooks": an admin opens the webhooks page (empty state), is told off for a
// target the cloud refuses, creates a webhook for device.online pointing at the pytest
// side's loopback receiver (keyboard only), opens its delivery log, and, once the pytest
// side has brought a device online, sees the delivery as delivered with HTTP 200; then the
// page at phone width, and the webhook deleted after a confirmation.
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

test("an admin creates a webhook and sees its delivery", async () => {
  const { page } = browser;
  const receiverUrl = env("E2E_RECEIVER_URL");
  await page.goto("/fleet");
  await loginAsRole(page);
  await page.getByTestId("nav-webhooks").click();
  await page.waitForURL((url) => url.pathname === "/webhooks");
  await page.getByTestId("view-empty").waitFor();
  await shot(page, "webhooks-empty");

  // A literal private address: the cloud refuses it (422) and the form says why.
  await page.getByTestId("webhook-url").fill("http://10.1.2.3/hook");
  await page.getByTestId("webhook-event-device.online").check();
  await page.getByTestId("webhook-create").click();
  await expect
    .poll(() => page.getByTestId("webhook-create-error").textContent())
    .toContain("address not allowed: 10.1.2.3 is private");
  await shot(page, "webhooks-refused");

  // The real one, by keyboard: type, tab on, Space ticks nothing new (already ticked), Enter.
  await page.getByTestId("webhook-url").fill("");
  await page.getByTestId("webhook-url").focus();
  await page.keyboard.type(receiverUrl);
  await page.keyboard.press("Tab");
  await page.keyboard.type(env("E2E_WEBHOOK_SECRET"));
  expect(await page.getByTestId("webhook-event-device.online").isChecked()).toBe(true);
  await page.getByTestId("webhook-create").focus();
  await page.keyboard.press("Enter");
  const row = page.locator('[data-testid="webhook-row"]');
  await expect.poll(() => row.count()).toBe(1);
  expect(await row.getByTestId("webhook-row-url").textContent()).toContain(receiverUrl);
  expect(await row.getAttribute("data-enabled")).toBe("true");
  expect(await page.getByTestId("webhook-notice").textContent()).toContain(
    "Webhook successfully created.",
  );
  // The secret never comes back: the form is cleared and the page shows no trace of it.
  expect(await page.getByTestId("webhook-secret").inputValue()).toBe("");
  expect(await page.content()).not.toContain(env("E2E_WEBHOOK_SECRET"));
  const publicId = await row.getAttribute("data-webhook-id");

  // Creating opens its delivery log: empty until something happens.
  const log = page.getByTestId("webhook-deliveries");
  await log.getByTestId("view-empty").waitFor();
  await shot(page, "webhooks-created");
  signal("created", { public_id: publicId });
  await waitForAnswer("online", 60_000);

  const delivery = log.locator('[data-testid="delivery-row"]').first();
  await log.getByTestId("deliveries-refresh").focus();
  await page.keyboard.press("Enter");
  await expect
    .poll(() => delivery.getAttribute("data-status"), { timeout: 20_000, interval: 250 })
    .toBe("delivered");
  expect(await delivery.getAttribute("data-event")).toBe("device.online");
  expect((await delivery.getByTestId("delivery-status").textContent())?.trim()).toBe("delivered");
  expect((await delivery.getByTestId("delivery-code").textContent())?.trim()).toBe("200");
  expect((await delivery.getByTestId("delivery-attempts").textContent())?.trim()).toBe("1");
  expect(await delivery.getByTestId("delivery-latency").textContent()).toMatch(/\d+(\.\d+)? m?s/);
  await delivery.getByTestId("delivery-history-toggle").focus();
  await page.keyboard.press("Enter");
  expect(await log.getByTestId("delivery-history").textContent()).toContain("#1 HTTP 200");
  const deliveryId = await delivery.getAttribute("data-delivery-id");
  await shot(page, "webhooks-delivered");

  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(200);
  expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
  await shot(page, "webhooks-phone");
  await page.setViewportSize({ width: 1280, height: 860 });

  // Delete asks first; Cancel keeps it, confirming removes it (and its log).
  await row.getByTestId("webhook-delete").click();
  await row.getByTestId("webhook-delete-cancel").click();
  expect(await row.count()).toBe(1);
  await row.getByTestId("webhook-delete").focus();
  await page.keyboard.press("Enter");
  await row.getByTestId("webhook-delete-confirm").focus();
  await page.keyboard.press("Enter");
  await page.getByTestId("view-empty").waitFor();
  expect(await page.getByTestId("webhook-deliveries").count()).toBe(0);
  expect(browser.pageErrors).toEqual([]);
  signal("done", { delivery_id: deliveryId });
});
