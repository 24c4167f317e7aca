// What every browser script shares: Debian's chromium through playwright-core, logging in
// through the form, screenshots, and the file handshake with the pytest side.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import type { BrowserContext, BrowserContextOptions, Locator, Page } from "playwright-core";
import { afterAll, beforeAll, expect } from "vitest";

export const CHROMIUM = "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
export const TOKEN_KEY = "revlink.token";

/** A required E2E_* variable (set by tests/e2e); a clear error when it is missing. */
export function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set; run the browser tests through pytest tests/e2e`);
  return value;
}

export function outputDir(): string {
  const dir = env("E2E_OUTPUT_DIR");
  mkdirSync(dir, { recursive: true });
  return dir;
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Uncaught exceptions thrown in any page: a test ends by asserting there were none. */
  pageErrors: string[];
  close(): Promise<void>;
}

/** A fresh chromium profile (deleted on close) with one page on E2E_BASE_URL. */
export async function openBrowser(options: BrowserContextOptions = {}): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), "revlink-e2e-profile-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    baseURL: env("E2E_BASE_URL"),
    viewport: { width: 1280, height: 860 },
    acceptDownloads: true,
    ...options,
  });
  const pageErrors: string[] = [];
  context.on("page", (p) => p.on("pageerror", (e) => pageErrors.push(`${p.url()}: ${e.message}`)));
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (e) => pageErrors.push(`${page.url()}: ${e.message}`));
  page.setDefaultTimeout(15_000);
  return {
    context,
    page,
    pageErrors,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * The browser of one script file: opened (then `setUp`) before its tests, closed after them.
 * Its fields are read inside the tests, once it is open.
 */
export function browserPerFile(
  options: BrowserContextOptions = {},
  setUp?: (browser: Browser) => Promise<void>,
): Browser {
  let opened: Browser | undefined;
  const current = (): Browser => {
    if (!opened) throw new Error("the browser opens in beforeAll; use it inside a test");
    return opened;
  };
  beforeAll(async () => {
    opened = await openBrowser(options);
    await setUp?.(opened);
  });
  afterAll(async () => {
    await opened?.close();
  });
  return {
    get context() {
      return current().context;
    },
    get page() {
      return current().page;
    },
    get pageErrors() {
      return current().pageErrors;
    },
    close: () => current().close(),
  };
}

/** Log in through the form the page shows (open a protected page first: it redirects to
 * /login?next=…); resolves once the app has left the login page. */
export async function login(page: Page, email: string, password: string): Promise<void> {
  await page.waitForURL((url) => url.pathname === "/login");
  await page.getByTestId("login-email").fill(email);
  await page.getByTestId("login-password").fill(password);
  await page.getByTestId("login-submit").click();
  await page.waitForURL((url) => !url.pathname.startsWith("/login"));
}

/** Log in with the E2E_EMAIL / E2E_PASSWORD account. */
export async function loginAsRole(page: Page): Promise<void> {
  await login(page, env("E2E_EMAIL"), env("E2E_PASSWORD"));
}

/** A full-page screenshot in e2e-output/<scenario>/<name>.png. */
export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(outputDir(), `${name}.png`), fullPage: true });
}

/** Tell the pytest side that ``name`` happened (it waits for <name>.signal). */
export function signal(name: string, data: Record<string, unknown> = {}): void {
  const path = join(outputDir(), `${name}.signal`);
  writeFileSync(`${path}.tmp`, JSON.stringify(data));
  renameSync(`${path}.tmp`, path); // atomic: the reader never sees half a file
}

/** Wait for the pytest side's <name>.answer. */
export async function waitForAnswer(name: string, timeoutMs: number): Promise<unknown> {
  const path = join(outputDir(), `${name}.answer`);
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`no answer ${name} from pytest in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return JSON.parse(readFileSync(path, "utf8")) as unknown;
}

/** The first number in ``text`` (e.g. "42.5 %" → 42.5), NaN when there is none. */
export function firstNumber(text: string | null): number {
  const match = /-?\d+(?:[.,]\d+)?/.exec(text ?? "");
  return match ? Number(match[0].replace(",", ".")) : Number.NaN;
}

/** Wait until ``locator``'s text has taken ``count`` different values (those ``accept``
 * takes; any non-empty one by default); returns them. */
export async function distinctTexts(
  locator: Locator,
  count: number,
  timeoutMs: number,
  accept: (text: string) => boolean = () => true,
): Promise<string[]> {
  const seen = new Set<string>();
  await expect
    .poll(
      async () => {
        const text = (await locator.textContent())?.trim() ?? "";
        if (text && accept(text)) seen.add(text);
        return seen.size;
      },
      { timeout: timeoutMs, interval: 100 },
    )
    .toBeGreaterThanOrEqual(count);
  return [...seen];
}

/** Wait until ``locator`` has attribute ``name`` equal to ``value``. */
export async function waitForAttribute(
  locator: Locator,
  name: string,
  value: string,
  timeoutMs = 15_000,
): Promise<void> {
  await expect
    .poll(() => locator.getAttribute(name), { timeout: timeoutMs, interval: 100 })
    .toBe(value);
}

/** The numeric value of attribute ``name`` (NaN when absent). */
export async function numericAttribute(locator: Locator, name: string): Promise<number> {
  const raw = await locator.getAttribute(name);
  return raw === null ? Number.NaN : Number(raw);
}

/** ``document.documentElement.scrollWidth - innerWidth``: > 0 means horizontal overflow. */
export async function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

/** A datetime-local input value ("YYYY-MM-DDTHH:MM") for ``date`` in the browser's zone. */
export async function localInputValue(page: Page, date: Date): Promise<string> {
  return page.evaluate((ms) => {
    const d = new Date(ms);
    const pad = (n: number) => String(n).padStart(2, "0");
    return (
      `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}` +
      `T${pad(d.getHours())}:${pad(d.getMinutes())}`
    );
  }, date.getTime());
}
