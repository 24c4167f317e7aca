// Scenario "docs": /docs (Swagger UI) and /redoc render the cloud's API with every request
// that leaves the cloud's own origin refused, so they need no network.
import { expect, test } from "vitest";
import { browserPerFile, env, shot } from "./support";

const foreign: string[] = [];
// ReDoc's footer logo is an <img> that removes itself when it cannot load; nothing else may
// come from outside.
const SELF_HIDING_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg";

const browser = browserPerFile({}, async ({ context }) => {
  const origin = new URL(env("E2E_BASE_URL")).origin;
  await context.route(
    (url) => url.origin !== origin && url.protocol !== "data:",
    async (route) => {
      foreign.push(route.request().url());
      await route.abort("internetdisconnected");
    },
  );
});

test("Swagger UI lists the API's operations", async () => {
  const { page } = browser;
  await page.goto("/docs");
  await expect
    .poll(() => page.locator(".opblock-summary-path").count(), { timeout: 15_000 })
    .toBeGreaterThan(10);
  await expect.poll(() => page.locator(".title").first().textContent()).toContain("revlink cloud");
  const paths = await page.locator(".opblock-summary-path").allTextContents();
  expect(paths.map((p) => p.replace(/\u200b/g, ""))).toContain("/api/v1/auth/login");
  await shot(page, "swagger");
});

test("ReDoc renders the same document", async () => {
  const { page } = browser;
  await page.goto("/redoc");
  await expect
    .poll(() => page.getByRole("heading", { name: /revlink cloud/ }).count(), { timeout: 20_000 })
    .toBeGreaterThan(0);
  await expect.poll(() => page.getByText("/api/v1/datapoints/latest").count()).toBeGreaterThan(0);
  await shot(page, "redoc");
  const needed = foreign.filter((url) => url !== SELF_HIDING_LOGO);
  expect(needed, "the docs asked for something outside the cloud").toEqual([]);
  expect(browser.pageErrors).toEqual([]);
});
