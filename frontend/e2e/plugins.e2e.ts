// Scenario "plugins": an admin opens the Plugins page from the menu, picks a device that has
// never connected (empty state), is told off inline for a config that is not a JSON object
// (and nothing is sent), creates an instance by keyboard, sees it listed as inactive with
// its delivery pending (waiting for the device), disables it, opens its channels (empty),
// looks at it at phone width, and deletes it after a confirmation.
import { expect, test } from "vitest";
import { browserPerFile, env, horizontalOverflow, loginAsRole, shot, signal } from "./support";

const browser = browserPerFile();

test("an admin creates, disables and deletes a device's plugin instance", async () => {
  const { page } = browser;
  const deviceId = env("E2E_PLUGIN_DEVICE_ID");
  const name = env("E2E_PLUGIN_NAME");
  const sent: string[] = [];
  page.on("request", (request) => {
    if (request.method() !== "GET" && new URL(request.url()).pathname.startsWith("/api/v1/plugins"))
      sent.push(`${request.method()} ${new URL(request.url()).pathname}`);
  });

  await page.goto("/fleet");
  await loginAsRole(page);
  await page.getByTestId("nav-plugins").click();
  await page.waitForURL((url) => url.pathname === "/plugins");
  await expect.poll(() => page.getByTestId("view-loading").count()).toBe(0);

  // The picker: the controllers' entry and the device; the URL follows the choice.
  const scope = page.getByLabel("Runs on");
  expect(await scope.inputValue()).toBe("controllers");
  await expect
    .poll(() => scope.locator(`option[value="${deviceId}"]`).count(), { timeout: 15_000 })
    .toBe(1);
  await scope.selectOption(deviceId);
  await page.waitForURL((url) => url.searchParams.get("device") === deviceId);
  await page.getByTestId("view-empty").waitFor();
  expect(await page.getByTestId("view-empty").textContent()).toContain("No plugin instances on");
  expect(await page.getByTestId("plugin-form-scope").textContent()).toContain(
    env("E2E_PLUGIN_DEVICE_NAME"),
  );
  await shot(page, "plugins-empty");

  // A config that is not JSON, then one that is not an object: said inline, nothing sent.
  await page.getByLabel("Plugin", { exact: true }).fill("simulated");
  await page.getByLabel("Instance name").fill(name);
  const config = page.getByLabel("Config (JSON object)");
  await config.fill('{"seed": 1,}');
  await page.getByTestId("plugin-create").click();
  const formError = page.getByTestId("plugin-create-error");
  await expect.poll(() => formError.textContent()).toContain("The config is not valid JSON");
  expect(await config.getAttribute("aria-invalid")).toBe("true");
  expect(await page.evaluate(() => document.activeElement?.id)).toBe("plugin-configJson");
  await shot(page, "plugins-bad-config");
  await config.fill("[1, 2]");
  await page.getByTestId("plugin-create").click();
  await expect
    .poll(() => formError.textContent())
    .toContain("must be a JSON object ({…}), not an array");
  expect(sent).toEqual([]);
  // Editing clears the problem.
  await config.fill('{"seed": 1}');
  expect(await formError.count()).toBe(0);
  expect(await config.getAttribute("aria-invalid")).toBe("false");

  // By keyboard: the poll interval, then Enter on the submit button.
  await page.getByLabel("Poll interval (s)").focus();
  await page.keyboard.press("ControlOrMeta+a");
  await page.keyboard.type("2");
  await page.getByTestId("plugin-create").focus();
  await page.keyboard.press("Enter");
  await expect
    .poll(() => page.getByTestId("plugin-notice").textContent())
    .toContain(`${name}: Plugin instance created.`);
  expect(sent).toEqual(["POST /api/v1/plugins"]);
  const row = page.locator(`[data-testid="plugin-row"][data-name="${name}"]`);
  await row.waitFor();
  expect(await row.getAttribute("data-status")).toBe("inactive");
  expect(await row.getAttribute("data-enabled")).toBe("true");
  expect(await row.getAttribute("data-delivery")).toBe("pending");
  expect((await row.getByTestId("plugin-delivery").textContent())?.trim()).toBe("pending");
  expect(await row.getByTestId("plugin-delivery-text").textContent()).toContain(
    "Waiting for the device",
  );
  expect((await row.getByTestId("plugin-status").textContent())?.trim()).toBe("inactive");
  expect(await row.getByTestId("plugin-reported").textContent()).toContain("No report yet");
  expect(await row.getByTestId("plugin-row-plugin").textContent()).toBe("simulated");
  // The form is ready for the next one.
  expect(await page.getByLabel("Instance name").inputValue()).toBe("");
  const publicId = await row.getAttribute("data-plugin-id");
  await shot(page, "plugins-created");

  // Disable, by keyboard.
  await row.getByTestId("plugin-toggle").focus();
  await page.keyboard.press("Enter");
  await expect.poll(() => row.getAttribute("data-enabled")).toBe("false");
  expect((await row.getByTestId("plugin-enabled").textContent())?.trim()).toBe("disabled");
  expect(await row.getAttribute("data-status")).toBe("inactive");
  expect(await row.getAttribute("data-delivery")).toBe("pending");
  expect(await page.getByTestId("plugin-notice").textContent()).toContain(`${name} disabled.`);
  expect(sent).toEqual(["POST /api/v1/plugins", `PUT /api/v1/plugins/${publicId}`]);

  // Its channels: none, as the device never ran it.
  await row.getByTestId("plugin-channels-toggle").click();
  const channels = page.getByTestId("plugin-channels");
  await channels.getByTestId("view-empty").waitFor();
  expect(await channels.getByTestId("view-empty").textContent()).toContain("No channels yet");
  expect(await row.getByTestId("plugin-channels-toggle").getAttribute("aria-pressed")).toBe("true");
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, "plugins-channels");

  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(200);
  expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, "plugins-phone");
  await page.getByTestId("nav-menu").click();
  await page.getByTestId("nav-plugins").waitFor({ state: "visible" });
  await shot(page, "plugins-phone-menu");
  await page.keyboard.press("Escape");
  await page.setViewportSize({ width: 1280, height: 860 });

  // Delete asks first; Cancel keeps it, confirming removes it.
  await row.getByTestId("plugin-delete").click();
  await row.getByTestId("plugin-delete-cancel").click();
  expect(await row.count()).toBe(1);
  await row.getByTestId("plugin-delete").focus();
  await page.keyboard.press("Enter");
  await row.getByTestId("plugin-delete-confirm").focus();
  await page.keyboard.press("Enter");
  await page.getByTestId("view-empty").waitFor();
  expect(await page.getByTestId("plugin-notice").textContent()).toContain(
    "Plugin instance successfully deleted.",
  );
  expect(await page.getByTestId("plugin-channels").count()).toBe(0);
  expect(browser.pageErrors).toEqual([]);
  signal("deleted", { public_id: publicId });
});

test("an admin maps a channel to an event, clears it and removes the mapping", async () => {
  const { page } = browser;
  const deviceId = env("E2E_MAP_DEVICE_ID");
  const name = env("E2E_MAP_INSTANCE_NAME");
  const eventId = env("E2E_MAP_EVENT_ID");
  const eventName = env("E2E_MAP_EVENT_NAME");
  await page.goto(`/plugins?device=${deviceId}`);
  const row = page.locator(`[data-testid="plugin-row"][data-name="${name}"]`);
  await row.waitFor();
  expect(await page.getByLabel("Runs on").inputValue()).toBe(deviceId);
  await row.getByTestId("plugin-channels-toggle").focus();
  await page.keyboard.press("Enter");

  const channels = page.getByTestId("plugin-channels");
  const channel = channels.locator('[data-testid="plugin-channel-row"][data-channel-id="temp"]');
  await channel.waitFor();
  expect(await channel.getAttribute("data-mapped")).toBe("true");
  const text = channel.getByTestId("plugin-channel-event");
  expect(await text.textContent()).toContain("Mapped to no event.");
  const select = channel.getByLabel("Event for Temperature");
  await expect.poll(() => select.locator(`option[value="${eventId}"]`).count()).toBe(1);
  const save = channel.getByTestId("plugin-channel-save");
  expect(await save.isDisabled()).toBe(true); // nothing changed yet

  await select.selectOption(eventId);
  expect(await save.isDisabled()).toBe(false);
  await save.focus();
  await page.keyboard.press("Enter");
  await expect.poll(() => text.textContent()).toContain(`Mapped to ${eventName}.`);
  expect(await channels.getByTestId("plugin-channels-notice").textContent()).toContain(
    "Temperature: Channel mapping updated.",
  );
  expect(await select.inputValue()).toBe(eventId);
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, "plugins-mapped");

  await select.selectOption("");
  await save.click();
  await expect.poll(() => text.textContent()).toContain("Mapped to no event.");

  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(200);
  expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, "plugins-mapping-phone");
  await page.setViewportSize({ width: 1280, height: 860 });

  await channel.getByTestId("plugin-channel-remove").click();
  await channels.getByTestId("view-empty").waitFor();
  expect(await channels.getByTestId("plugin-channels-notice").textContent()).toContain(
    "Channel mapping successfully deleted.",
  );
  expect(browser.pageErrors).toEqual([]);
  signal("done");
});
