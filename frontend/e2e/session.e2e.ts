// Scenario "session": log in through the form, the fleet follows a device going online and
// offline (pytest starts and stops its agent on our signals), logout, ended sessions.
import { expect, test } from "vitest";
import type { Page } from "playwright-core";
import {
  TOKEN_KEY,
  env,
  firstNumber,
  login,
  browserPerFile,
  shot,
  signal,
  waitForAnswer,
  waitForAttribute,
} from "./support";

const browser = browserPerFile();

const pathOf = (page: Page) => new URL(page.url()).pathname;
const nextOf = (page: Page) => new URL(page.url()).searchParams.get("next");
const storedToken = (page: Page) => page.evaluate((key) => localStorage.getItem(key), TOKEN_KEY);

test("login, fleet online state, logout, expired and invalid tokens", async () => {
  const { page } = browser;
  const email = env("E2E_EMAIL");

  // Not signed in: any page sends you to the login form, remembering where you were going.
  await page.goto("/fleet");
  await page.waitForURL((url) => url.pathname === "/login");
  expect(nextOf(page)).toBe("/fleet");
  await shot(page, "login");

  // A wrong password is refused on the form.
  await page.getByTestId("login-email").fill(email);
  await page.getByTestId("login-password").fill("not the password");
  await page.getByTestId("login-submit").click();
  await expect.poll(() => page.getByTestId("login-error").isVisible()).toBe(true);
  expect(await page.getByTestId("login-error").textContent()).not.toBe("");
  expect(pathOf(page)).toBe("/login");
  expect(await storedToken(page)).toBeNull();

  await login(page, email, env("E2E_PASSWORD"));
  expect(pathOf(page)).toBe("/fleet");
  expect(await storedToken(page)).toBeTruthy();
  const who = (await page.getByTestId("current-user").textContent()) ?? "";
  expect(who).toContain(email);
  expect(who.toLowerCase()).toContain("admin");
  // Admins see the admin controls (the viewer scenario checks they are absent for viewers).
  await page.getByTestId("nav-users").waitFor();
  await page.getByTestId("device-create-name").waitFor();

  // The streaming device is online and has sent records.
  const streaming = page.locator(
    `[data-testid="device-row"][data-device-id="${env("E2E_DEVICE_ID")}"]`,
  );
  await waitForAttribute(streaming.getByTestId("device-online"), "data-online", "true");
  expect(await streaming.getByTestId("device-online").textContent()).toMatch(/online/i);
  expect(firstNumber(await streaming.getByTestId("device-last-seq").textContent())).toBeGreaterThan(
    0,
  );
  expect(await streaming.getByTestId("device-last-seen").textContent()).not.toMatch(/^\s*$/);

  // A registered device without an agent shows Offline, goes Online when its agent connects
  // and Offline again when the agent stops, without reloading the page.
  const late = page.locator(
    `[data-testid="device-row"][data-device-id="${env("E2E_LATE_DEVICE_ID")}"]`,
  );
  await waitForAttribute(late.getByTestId("device-online"), "data-online", "false");
  expect(await late.getByTestId("device-online").textContent()).toMatch(/offline/i);
  await shot(page, "fleet-before");
  signal("late-offline");
  await waitForAnswer("late-offline", 40_000);
  await waitForAttribute(late.getByTestId("device-online"), "data-online", "true", 15_000);
  expect(await late.getByTestId("device-online").textContent()).toMatch(/online/i);
  await shot(page, "fleet");
  signal("late-online");
  await waitForAnswer("late-online", 30_000);
  await waitForAttribute(late.getByTestId("device-online"), "data-online", "false", 15_000);

  // Logout drops the token and returns to the login form; pages are closed again.
  await page.getByTestId("logout").click();
  await page.waitForURL((url) => url.pathname === "/login");
  expect(await storedToken(page)).toBeNull();
  await page.goto(`/devices/${env("E2E_DEVICE_ID")}`);
  await page.waitForURL((url) => url.pathname === "/login");
  expect(nextOf(page)).toBe(`/devices/${env("E2E_DEVICE_ID")}`);

  // A correctly signed but expired token: the first API 401 ends the session.
  await page.evaluate(([key, token]) => localStorage.setItem(key, token), [
    TOKEN_KEY,
    env("E2E_EXPIRED_TOKEN"),
  ] as const);
  await page.goto("/fleet");
  await page.waitForURL((url) => url.pathname === "/login", { timeout: 10_000 });
  await page.getByText(/session has ended/i).waitFor({ timeout: 5_000 });
  expect(await storedToken(page)).toBeNull();
  await shot(page, "session-ended");

  // Signing in again from there goes back where the user was going.
  await login(page, email, env("E2E_PASSWORD"));
  expect(pathOf(page)).toBe("/fleet");

  // Garbage in localStorage is not a session either.
  await page.evaluate((key) => localStorage.setItem(key, "not-a-jwt"), TOKEN_KEY);
  await page.goto("/live");
  await page.waitForURL((url) => url.pathname === "/login", { timeout: 10_000 });
  expect(await storedToken(page)).toBeNull();

  expect(browser.pageErrors).toEqual([]);
});
