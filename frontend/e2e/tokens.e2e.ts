// Scenario "tokens": an admin creates an API token on the tokens page (shown once, with a copy
// button); pytest uses it on REST and on a WebSocket; the admin revokes it here and pytest
// sees it refused and its socket closed. Then the admin demotes a user on the users page
// (pytest holds that user's sockets open and sees them close) and deactivates them. Desktop
// and phone width. Last, a viewer changes their own password on the tokens page.
import { expect, test } from "vitest";
import type { Page } from "playwright-core";
import {
  browserPerFile,
  env,
  horizontalOverflow,
  login,
  loginAsRole,
  shot,
  signal,
  waitForAnswer,
} from "./support";

const browser = browserPerFile();

async function atPhoneWidth(page: Page, name: string): Promise<void> {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(200);
  expect(await horizontalOverflow(page), `${name} overflows at 390 px`).toBeLessThanOrEqual(0);
  await shot(page, `${name}-phone`);
  await page.setViewportSize({ width: 1280, height: 800 });
}

test("create a token, see it work, revoke it", async () => {
  const { page } = browser;
  const name = env("E2E_TOKEN_NAME");
  await page.goto("/fleet");
  await loginAsRole(page);
  await page.getByTestId("nav-tokens").click();
  await page.waitForURL((url) => url.pathname === "/tokens");
  await page.getByTestId("token-form").waitFor();

  // Checked before asking the cloud.
  await page.getByTestId("token-create").click();
  expect(await page.getByTestId("token-create-error").textContent()).toContain("Enter a name");

  await page.getByTestId("token-name").fill(name);
  await page.getByTestId("token-role").selectOption("operator");
  await page.getByTestId("token-create").click();
  const plaintext = (await page.getByTestId("token-plaintext").textContent())?.trim() ?? "";
  expect(plaintext).toMatch(/^wm_[A-Za-z0-9_-]{43}$/);
  expect(
    await page.getByTestId("token-created").getByRole("button", { name: "Copy token" }).count(),
  ).toBe(1);
  const row = page.locator(`[data-testid="token-row"][data-token-name="${name}"]`);
  await row.waitFor();
  expect(await row.textContent()).toContain(plaintext.slice(0, 11));
  expect(await row.getByTestId("token-role-badge").textContent()).toContain("operator");
  expect(await row.getByTestId("token-last-used").textContent()).toContain("Never");
  await shot(page, "token-created");

  signal("token-created", { token: plaintext, publicId: await row.getAttribute("data-token-id") });
  await waitForAnswer("token-used", 60_000);

  // Shown once: after a reload only the prefix is left; the use shows as "last used".
  await page.reload();
  await row.waitFor();
  expect(await page.getByTestId("token-plaintext").count()).toBe(0);
  expect(await row.getByTestId("token-last-used").textContent()).not.toContain("Never");
  await atPhoneWidth(page, "tokens");

  page.once("dialog", (dialog) => void dialog.accept());
  await row.getByTestId("token-revoke").click();
  await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(0);
  expect(await page.getByTestId("token-notice").textContent()).toContain(name);
  await shot(page, "token-revoked");
  signal("token-revoked");
  await waitForAnswer("token-revoked", 60_000);

  // The password form checks what it can before asking.
  await page.getByTestId("password-current").fill("anything-at-all");
  await page.getByTestId("password-new").fill("new-password-1");
  await page.getByTestId("password-repeat").fill("new-password-2");
  await page.getByTestId("password-submit").click();
  expect(await page.getByTestId("password-error").textContent()).toContain("differ");
  expect(browser.pageErrors).toEqual([]);
});

test("demote a user (their sockets close), then deactivate them", async () => {
  const { page } = browser;
  const email = env("E2E_DEMOTE_EMAIL");
  await page.goto("/users");
  const row = page.locator(`[data-testid="user-row"][data-user-email="${email}"]`);
  await row.waitFor();
  expect(await row.getAttribute("data-user-role")).toBe("operator");

  await row.getByTestId("user-role-select").selectOption("viewer");
  page.once("dialog", (dialog) => {
    expect(dialog.message()).toContain("signed out everywhere");
    void dialog.accept();
  });
  await row.getByTestId("user-role-apply").click();
  await expect.poll(() => row.getAttribute("data-user-role"), { timeout: 10_000 }).toBe("viewer");
  expect(await page.getByTestId("user-notice").textContent()).toContain("is now viewer");
  await shot(page, "user-demoted");
  signal("user-demoted");
  await waitForAnswer("user-demoted", 60_000);

  page.once("dialog", (dialog) => void dialog.accept());
  await row.getByTestId("user-toggle-active").click();
  await expect.poll(() => row.getAttribute("data-user-active"), { timeout: 10_000 }).toBe("false");
  expect(await row.getByTestId("user-toggle-active").textContent()).toContain("Reactivate");

  // Resetting a password opens a small form on the row; a short one is refused before sending.
  await row.getByTestId("user-reset-password").click();
  await row.getByTestId("user-reset-input").fill("short");
  await row.getByTestId("user-reset-save").click();
  expect(await page.getByTestId("user-action-error").textContent()).toContain("8");
  await shot(page, "user-deactivated");
  await atPhoneWidth(page, "users");
  expect(browser.pageErrors).toEqual([]);
});

test("change my own password: this tab stays signed in", async () => {
  const { page } = browser;
  await page.evaluate(() => window.localStorage.clear());
  await page.goto("/tokens");
  await login(page, env("E2E_PW_EMAIL"), env("E2E_PW_OLD"));
  await page.getByTestId("password-form").waitFor();
  await page.getByTestId("password-current").fill("not-the-password");
  await page.getByTestId("password-new").fill(env("E2E_PW_NEW"));
  await page.getByTestId("password-repeat").fill(env("E2E_PW_NEW"));
  await page.getByTestId("password-submit").click();
  await expect
    .poll(() => page.getByTestId("password-error").textContent(), { timeout: 10_000 })
    .toContain("the current password is wrong");
  await page.getByTestId("password-current").fill(env("E2E_PW_OLD"));
  await page.getByTestId("password-submit").click();
  await expect
    .poll(() => page.getByTestId("password-notice").textContent(), { timeout: 10_000 })
    .toContain("Password changed");
  expect(await page.getByTestId("password-current").inputValue()).toBe("");
  await shot(page, "password-changed");
  // The answer's fresh session is the tab's now: a reload stays on the page.
  await page.reload();
  await page.getByTestId("password-form").waitFor();
  expect(new URL(page.url()).pathname).toBe("/tokens");
  expect(browser.pageErrors).toEqual([]);
  signal("password-changed");
});
