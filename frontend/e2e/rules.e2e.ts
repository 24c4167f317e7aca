// Scenario "rules": an operator opens the Rules page, sees the upper threshold only for a
// range operator, creates a rule on a sensor (keyboard submit) with a notification action;
// the pytest side sends a value that crosses it through the WebMACS telemetry door; a toast
// appears (aria-live) and the row shows the rule triggered with its time. Then the operator
// disables it. Desktop and phone width. The pytest side made more than a page of rules that
// sort before it: after creating it the page shows the page it is on (20 a page), and the
// pager goes back and forth by keyboard.
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

test("an operator creates a rule and sees it fire", async () => {
  const { page } = browser;
  const sensorId = env("E2E_RULE_SENSOR_ID");
  const ruleName = env("E2E_RULE_NAME");
  await page.goto("/fleet");
  await loginAsRole(page);
  await page.getByTestId("nav-rules").click();
  await page.waitForURL((url) => url.pathname === "/rules");
  const form = page.getByTestId("rule-form");
  await form.waitFor();
  await expect.poll(() => page.getByTestId("view-loading").count()).toBe(0);
  await shot(page, "rules-start");

  // The upper threshold shows only for a range operator.
  expect(await page.getByTestId("rule-threshold-high").count()).toBe(0);
  await page.getByTestId("rule-operator").selectOption("between");
  expect(await page.getByTestId("rule-threshold-high").count()).toBe(1);
  await page.getByTestId("rule-operator").selectOption("gt");
  expect(await page.getByTestId("rule-threshold-high").count()).toBe(0);
  // Command fields only for the command action.
  await page.getByTestId("rule-action").selectOption("command");
  expect(await page.getByTestId("rule-command-channel").count()).toBe(1);
  await page.getByTestId("rule-action").selectOption("notification");
  expect(await page.getByTestId("rule-command-channel").count()).toBe(0);

  // A check the form makes itself: no threshold yet.
  await page.getByLabel("Name").fill(ruleName);
  await page.getByLabel("Sensor").selectOption(sensorId);
  await page.getByTestId("rule-submit").click();
  await expect.poll(() => page.getByTestId("rule-form-error").textContent()).toContain("threshold");
  expect(await page.evaluate(() => document.activeElement?.id)).toBe("rule-threshold");

  await page.getByLabel("Threshold").fill("50");
  await page.getByLabel("Cooldown (seconds)").fill("0");
  await page.getByTestId("rule-submit").focus();
  await page.keyboard.press("Enter");
  await expect.poll(() => page.getByTestId("rule-notice").textContent()).toContain(ruleName);

  const row = page.locator('[data-testid="rule-row"]', { hasText: ruleName });
  await row.waitFor();
  expect(await row.getAttribute("data-status")).toBe("armed");
  expect(await row.getByTestId("rule-condition").textContent()).toContain("> 50");
  expect(await row.getByTestId("rule-last-triggered").textContent()).toContain("never");
  await shot(page, "rules-created");

  // Past the first page: the pager shows, and pages back and forth by keyboard.
  const pageText = () => page.getByTestId("rules-page").textContent();
  const shownPage = async () => Number(/Page (\d+) of/.exec((await pageText()) ?? "")?.[1]);
  const onPage = await shownPage();
  expect(onPage).toBeGreaterThanOrEqual(2);
  expect(await page.getByTestId("rules-pager").getAttribute("aria-label")).toBe("Pages of rules");
  expect(await page.getByTestId("rule-row").count()).toBeLessThanOrEqual(20);
  const focused = () => page.evaluate(() => document.activeElement?.getAttribute("data-testid"));
  await page.getByTestId("rules-prev").focus();
  await page.keyboard.press("Enter");
  await expect.poll(shownPage).toBe(onPage - 1);
  await expect.poll(() => row.count()).toBe(0);
  expect(await page.getByTestId("rule-row").count()).toBe(20);
  // On page 1 Previous is disabled: the focus moves to Next rather than being lost.
  expect(await focused()).toBe(onPage - 1 === 1 ? "rules-next" : "rules-prev");
  await page.getByTestId("rules-next").focus();
  await page.keyboard.press("Enter");
  await expect.poll(shownPage).toBe(onPage);
  await row.waitFor();
  expect(await focused()).toMatch(/^rules-(next|prev)$/);
  await page.evaluate(() => window.scrollTo(0, 0)); // the shots below start at the top

  signal("created", { rule_id: await row.getAttribute("data-rule-id") });
  await waitForAnswer("sent", 60_000);

  const toast = page.getByTestId("toast").filter({ hasText: ruleName });
  await toast.waitFor({ timeout: 20_000 });
  expect(await toast.getByTestId("toast-message").textContent()).toContain("75");
  expect(await page.getByTestId("toasts").getAttribute("aria-live")).toBe("polite");
  await expect
    .poll(() => row.getAttribute("data-status"), { timeout: 20_000, interval: 250 })
    .toBe("triggered");
  expect(await row.getByTestId("rule-last-triggered").textContent()).not.toContain("never");
  await shot(page, "rules-triggered");

  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(200);
  expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
  await shot(page, "rules-phone");

  await toast.getByTestId("toast-close").click();
  await expect.poll(() => toast.count()).toBe(0);
  await row.getByTestId("rule-toggle").focus();
  await page.keyboard.press("Enter");
  await expect.poll(() => row.getAttribute("data-status")).toBe("disabled");
  await shot(page, "rules-disabled-phone");
  expect(browser.pageErrors).toEqual([]);
  signal("done");
});
