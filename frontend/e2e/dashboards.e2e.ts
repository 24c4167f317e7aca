// Scenario "dashboards": an operator creates a global dashboard and adds a stat card, a gauge,
// a line chart and an actuator toggle for a device's sensors (the pytest side plays the device
// on the uplink door); the values show live; a widget is resized with the keyboard; the toggle
// sends a channel write the device applies (pending → applied, and its value flips). The list
// renames one dashboard and deletes another after a confirm. Phone width stacks the widgets in
// reading order; a viewer sees the dashboard with the toggle disabled and why; a sensor removed
// afterwards leaves its widget, marked "sensor removed".
import { expect, test } from "vitest";
import type { Locator, Page } from "playwright-core";
import {
  browserPerFile,
  distinctTexts,
  env,
  horizontalOverflow,
  login,
  loginAsRole,
  numericAttribute,
  openBrowser,
  shot,
  signal,
  waitForAnswer,
  waitForAttribute,
} from "./support";

const browser = browserPerFile();

const widget = (page: Page, type: string): Locator =>
  page.locator(`[data-testid="widget"][data-widget-type="${type}"]`);

interface Draft {
  type: string;
  title: string;
  sensor: string;
  place?: { x: number; y: number; w: number; h: number };
  config?: string;
}

async function addWidget(page: Page, draft: Draft, opener: string): Promise<void> {
  await page.getByTestId(opener).click();
  const editor = page.getByTestId("widget-editor");
  await editor.getByTestId("widget-type").selectOption(draft.type);
  await editor.getByTestId("widget-title-input").fill(draft.title);
  const option = editor.locator(`[data-testid="widget-sensor"] option[value="${draft.sensor}"]`);
  await expect.poll(() => option.count(), { timeout: 10_000 }).toBe(1);
  await editor.getByTestId("widget-sensor").selectOption(draft.sensor);
  for (const [key, value] of Object.entries(draft.place ?? {})) {
    await editor.getByTestId(`widget-${key}`).fill(String(value));
  }
  if (draft.config) await editor.getByTestId("widget-config").fill(draft.config);
  await editor.getByTestId("widget-save").click();
  await expect.poll(() => page.getByTestId("widget-editor").count()).toBe(0);
  await expect.poll(() => widget(page, draft.type).count()).toBe(1);
}

test("an operator builds a live dashboard and switches an actuator", async () => {
  const { page } = browser;
  const name = env("E2E_DASH_NAME");
  const temp = env("E2E_DASH_TEMP_SENSOR");
  const pump = env("E2E_DASH_PUMP_SENSOR");
  await page.goto("/dashboards");
  await loginAsRole(page);
  await page.waitForURL((url) => url.pathname === "/dashboards");
  await page.getByTestId("dashboard-form").waitFor();
  await shot(page, "list-start");

  // Create a global dashboard; the page opens it, empty.
  await page.getByTestId("dashboard-name-input").fill(name);
  await page.getByTestId("dashboard-global").check();
  await page.getByTestId("dashboard-create").click();
  await page.waitForURL((url) => /^\/dashboards\/[0-9a-f-]{36}$/.test(url.pathname));
  const dashboardId = new URL(page.url()).pathname.split("/").pop() ?? "";
  await expect.poll(() => page.getByTestId("dashboard-name").textContent()).toBe(name);
  await page.getByTestId("view-empty").waitFor();
  expect(await page.getByTestId("view-empty").textContent()).toContain("No widgets yet — add one");
  await shot(page, "dashboard-empty");

  // The editor refuses a spot off the grid before asking the cloud.
  await page.getByTestId("widget-add-empty").click();
  const editor = page.getByTestId("widget-editor");
  await editor.getByTestId("widget-title-input").fill("Off the grid");
  await editor.getByTestId("widget-x").fill("11");
  await editor.getByTestId("widget-save").click();
  expect(await editor.textContent()).toContain("so a widget at x=11 spans at most 1");
  await shot(page, "editor-refuses");
  await editor.getByTestId("widget-cancel").click();

  await addWidget(page, { type: "stat_card", title: "Temperature", sensor: temp }, "widget-add");
  const gaugeConfig = '{"min": 0, "max": 50}';
  await addWidget(
    page,
    { type: "gauge", title: "Temperature gauge", sensor: temp, config: gaugeConfig },
    "widget-add",
  );
  await addWidget(page, { type: "actuator_toggle", title: "Pump", sensor: pump }, "widget-add");
  await addWidget(
    page,
    {
      type: "line_chart",
      title: "Temperature, 10 min",
      sensor: temp,
      place: { x: 0, y: 3, w: 12, h: 4 },
      config: '{"minutes": 10}',
    },
    "widget-add",
  );
  await expect.poll(() => page.getByTestId("widget").count()).toBe(4);
  const toggleWidget = widget(page, "actuator_toggle");
  expect(await toggleWidget.getAttribute("data-x")).toBe("8");

  // Resize with the keyboard: narrower, saved at once, then wider again.
  await toggleWidget.getByTestId("widget-narrower").focus();
  await page.keyboard.press("Enter");
  await waitForAttribute(toggleWidget, "data-w", "3");
  await toggleWidget.getByTestId("widget-wider").focus();
  await page.keyboard.press("Enter");
  await waitForAttribute(toggleWidget, "data-w", "4");
  expect(await page.getByTestId("widget-overlap").count()).toBe(0);

  // Edit a widget's title; add a spare one and delete it after a confirm.
  const statCard = widget(page, "stat_card");
  await statCard.getByTestId("widget-edit").click();
  await page
    .getByTestId("widget-editor")
    .getByTestId("widget-title-input")
    .fill("Hall temperature");
  await page.getByTestId("widget-editor").getByTestId("widget-save").click();
  await expect
    .poll(() => statCard.getByTestId("widget-title").textContent())
    .toBe("Hall temperature");
  await page.getByTestId("widget-add").click();
  await page.getByTestId("widget-editor").getByTestId("widget-title-input").fill("Spare");
  await page.getByTestId("widget-editor").getByTestId("widget-save").click();
  await expect.poll(() => page.getByTestId("widget").count()).toBe(5);
  const spare = page.locator('[data-testid="widget"]', { hasText: "Spare" });
  expect(await spare.getByTestId("widget-no-sensor").count()).toBe(1);
  await spare.getByTestId("widget-delete").click();
  await spare.getByTestId("widget-delete-confirm").click();
  await expect.poll(() => page.getByTestId("widget").count()).toBe(4);
  await page.evaluate(() => window.scrollTo(0, 0)); // the sticky top bar stays on top
  await shot(page, "dashboard-editing");
  await page.getByTestId("dashboard-edit").click();
  expect(await page.getByTestId("widget-controls").count()).toBe(0);

  // Live: the stat card and the gauge follow the device; the chart grows.
  await waitForAttribute(page.getByTestId("connection-state"), "data-state", "live");
  const stat = widget(page, "stat_card");
  const values = await distinctTexts(stat.getByTestId("stat-value"), 3, 20_000);
  expect(values.every((v) => /^\d/.test(v))).toBe(true);
  expect(await stat.getByTestId("stat-unit").count()).toBe(0); // the device declared no unit
  const meter = widget(page, "gauge").getByRole("meter");
  expect(await meter.getAttribute("aria-valuemin")).toBe("0");
  expect(await meter.getAttribute("aria-valuemax")).toBe("50");
  const seen = new Set<number>();
  await expect
    .poll(
      async () => {
        seen.add(await numericAttribute(meter, "aria-valuenow"));
        return seen.size;
      },
      { timeout: 20_000, interval: 200 },
    )
    .toBeGreaterThanOrEqual(3);
  const chart = widget(page, "line_chart").getByTestId("widget-chart");
  await waitForAttribute(chart, "data-painted", "true");
  const before = await numericAttribute(chart, "data-points");
  await expect
    .poll(() => numericAttribute(chart, "data-points"), { timeout: 15_000 })
    .toBeGreaterThan(before);
  await shot(page, "dashboard-live");

  // The toggle: off → a channel write, pending until the device answers, then applied; the
  // device's new value comes back on the stream.
  expect(await toggleWidget.getByTestId("toggle-state").textContent()).toBe("off");
  await toggleWidget.getByTestId("toggle-button").click();
  const write = toggleWidget.getByTestId("toggle-write");
  await write.waitFor();
  await waitForAttribute(write, "data-state", "applied", 20_000);
  await expect
    .poll(() => toggleWidget.getByTestId("toggle-state").textContent(), { timeout: 15_000 })
    .toBe("on");
  expect(await toggleWidget.getByTestId("toggle-button").getAttribute("aria-pressed")).toBe("true");
  await shot(page, "toggle-applied");
  signal("toggled", { dashboard_id: dashboardId });
  await waitForAnswer("toggled", 60_000);

  // Phone width: one column, in reading order (row, then column), nothing wider than the page.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);
  expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
  const boxes = await page.getByTestId("widget").evaluateAll((els) =>
    els.map((el) => ({
      type: el.getAttribute("data-widget-type"),
      ...el.getBoundingClientRect().toJSON(),
    })),
  );
  expect(boxes.map((b) => b.type)).toEqual(["stat_card", "gauge", "actuator_toggle", "line_chart"]);
  for (let i = 1; i < boxes.length; i += 1) {
    expect(boxes[i]?.top).toBeGreaterThan(boxes[i - 1]?.bottom ?? Infinity);
    expect(boxes[i]?.left).toBe(boxes[0]?.left);
  }
  await shot(page, "dashboard-phone");
  await page.setViewportSize({ width: 1280, height: 860 });

  // The list: rename this one with the keyboard; create another and delete it after a confirm.
  await page.getByTestId("nav-dashboards").click();
  await page.waitForURL((url) => url.pathname === "/dashboards");
  const row = page.locator(`[data-testid="dashboard-row"][data-dashboard-id="${dashboardId}"]`);
  expect(await row.getByTestId("dashboard-widget-count").textContent()).toContain("4");
  await row.getByTestId("dashboard-rename").focus();
  await page.keyboard.press("Enter");
  await expect
    .poll(() => page.evaluate(() => document.activeElement?.id))
    .toBe(`rename-${dashboardId}`);
  await page.keyboard.press("End");
  await page.keyboard.type(" (renamed)");
  await page.keyboard.press("Enter");
  await expect
    .poll(() => row.getByTestId("dashboard-open").textContent())
    .toBe(`${name} (renamed)`);

  await page.getByTestId("dashboard-name-input").fill("Throwaway");
  await page.getByTestId("dashboard-create").click();
  await page.waitForURL((url) => url.pathname !== "/dashboards");
  const throwawayId = new URL(page.url()).pathname.split("/").pop() ?? "";
  await page.goBack();
  await page.waitForURL((url) => url.pathname === "/dashboards");
  const throwaway = page.locator(
    `[data-testid="dashboard-row"][data-dashboard-id="${throwawayId}"]`,
  );
  await throwaway.getByTestId("dashboard-delete").click();
  await shot(page, "list-confirm-delete");
  await throwaway.getByTestId("dashboard-delete-confirm").click();
  await expect.poll(() => throwaway.count()).toBe(0);
  await shot(page, "list-after");
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(200);
  expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
  await shot(page, "list-phone");
  expect(browser.pageErrors).toEqual([]);

  // A viewer sees the global dashboard, live, with the toggle disabled and the reason.
  const viewer = await openBrowser();
  try {
    await viewer.page.goto(`/dashboards/${dashboardId}`);
    await login(viewer.page, env("E2E_VIEWER_EMAIL"), env("E2E_VIEWER_PASSWORD"));
    await viewer.page.waitForURL((url) => url.pathname === `/dashboards/${dashboardId}`);
    const viewerToggle = widget(viewer.page, "actuator_toggle");
    await viewerToggle.waitFor();
    expect(await viewer.page.getByTestId("dashboard-edit").count()).toBe(0);
    expect(await viewerToggle.getByTestId("toggle-button").isDisabled()).toBe(true);
    expect(await viewerToggle.getByTestId("toggle-disabled").textContent()).toContain(
      "Viewers cannot switch actuators",
    );
    await expect
      .poll(() => viewerToggle.getByTestId("toggle-state").textContent(), { timeout: 10_000 })
      .toBe("on");
    await distinctTexts(widget(viewer.page, "stat_card").getByTestId("stat-value"), 2, 15_000);
    await shot(viewer.page, "viewer");
    expect(viewer.pageErrors).toEqual([]);
  } finally {
    await viewer.close();
  }

  // The pump's sensor is removed (pytest deletes it): its widget stays, saying so.
  signal("remove-sensor");
  await waitForAnswer("remove-sensor", 60_000);
  await page.goto(`/dashboards/${dashboardId}`);
  const removed = widget(page, "actuator_toggle");
  await removed.getByTestId("widget-sensor-removed").waitFor();
  expect(await removed.getByTestId("toggle-button").count()).toBe(0);
  expect(await widget(page, "stat_card").getByTestId("widget-sensor-removed").count()).toBe(0);
  await shot(page, "sensor-removed");
  expect(browser.pageErrors).toEqual([]);
});
