// The app UI components rendered to HTML (no browser): what a person would find in them.
import { describe, expect, it } from "vitest";
import { createSSRApp, h } from "vue";
import { renderToString } from "vue/server-renderer";
import type { AppInfo } from "../../api/types";
import type { SaveOutcome } from "../../composables/useDeviceApps";
import { parseAppUi, type AppUi } from "../../lib/appUi";
import AppConfigForm from "./AppConfigForm.vue";
import UiApplication from "./UiApplication.vue";

const IDLE = { busy: false, error: null };

const UI = {
  name: "tank_1",
  type: "uiApplication",
  children: {
    level: {
      name: "level",
      type: "uiVariable",
      displayString: "Level",
      varType: "float",
      currentValue: 12.345,
      decPrecision: 1,
      units: "%",
      ranges: [{ label: "Low", min: 0, max: 20, colour: "red", show_on_graph: true }],
    },
    tank_1_pump: {
      name: "tank_1_pump",
      type: "uiAction",
      displayString: "Start pump",
      requiresConfirm: true,
      colour: "green",
    },
    tank_1_speed: {
      name: "tank_1_speed",
      type: "uiSlider",
      displayString: "Speed",
      min: 0,
      max: 10,
      stepSize: 1,
      currentValue: 4,
    },
    tank_1_mode: {
      name: "tank_1_mode",
      type: "uiStateCommand",
      displayString: "Mode",
      currentValue: "auto",
      userOptions: { auto: { name: "auto", displayString: "Automatic" } },
    },
    extras: {
      name: "extras",
      type: "uiSubmodule",
      displayString: "Extras",
      defaultOpen: false,
      children: {
        tank_1_limit: { name: "tank_1_limit", type: "uiFloatParam", displayString: "Limit" },
        tank_1_alarm: { name: "tank_1_alarm", type: "uiWarningIndicator", displayString: "Hot" },
      },
    },
    cam: { name: "cam", type: "uiCameraHistory", displayString: "Camera" },
  },
};

function renderApp(ui: AppUi, canWrite: boolean): Promise<string> {
  const app = createSSRApp({
    render: () =>
      h(UiApplication, {
        appKey: "tank_1",
        ui,
        canWrite,
        hintId: "hint",
        send: async () => true,
        state: () => IDLE,
      }),
  });
  return renderToString(app).then(withoutComments);
}

/** The HTML without Vue's fragment markers, to read as a browser shows it. */
function withoutComments(html: string): string {
  return html.replace(/<!--[\s\S]*?-->/g, "");
}

describe("UiApplication", () => {
  it("shows values, units, ranges, pending writes and every element", async () => {
    const ui = parseAppUi(UI, {
      format: { locale: "en-US" },
      writes: [
        {
          id: "w",
          device_id: "d",
          channel: "ui_cmds",
          detail: null,
          seq: 1,
          patch: { cmds: { tank_1_speed: 7 } },
          replace: false,
          state: "delivered",
          created_at: "2026-01-01T00:00:00Z",
          created_by: null,
          delivered_at: null,
          applied_at: null,
        },
      ],
    });
    if (!ui) throw new Error("no ui");
    const html = await renderApp(ui, true);
    expect(html).toContain("12.3 %");
    expect(html).toContain("Low");
    expect(html).toContain("Start pump");
    expect(html).toContain('data-testid="appui-pending" data-state="delivered"');
    expect(html).toContain("delivered: 7");
    expect(html).toContain("Automatic");
    expect(html).toContain('aria-expanded="false"');
    expect(html).toContain("Warning:</strong> Hot");
    expect(html).toContain('data-testid="appui-unsupported"');
    expect(html).toContain("uiCameraHistory");
    expect(html).toContain("1 warning");
    expect(html).not.toMatch(/<button[^>]*data-testid="appui-action"[^>]*disabled/);
  });

  it("disables every control for a viewer, naming the hint", async () => {
    const ui = parseAppUi(UI);
    if (!ui) throw new Error("no ui");
    const html = await renderApp(ui, false);
    const controls =
      html.match(/<(button|input|select|textarea)\b[^>]*data-testid="appui-[^"]*"[^>]*>/g) ?? [];
    const writable = controls.filter(
      (tag) => !tag.includes("appui-submodule-toggle") && !tag.includes("appui-confirm-cancel"),
    );
    expect(writable.length).toBeGreaterThan(3);
    for (const tag of writable) expect(tag).toMatch(/\bdisabled\b/);
    expect(html).toContain('aria-describedby="hint"');
  });
});

describe("AppConfigForm", () => {
  const app: AppInfo = {
    app_key: "tank_1",
    display_name: "Tank 1",
    config_schema: {
      type: "object",
      properties: {
        name: { title: "Name", type: "string", description: "Shown on the dashboard" },
        level: { title: "Level", type: ["integer", "null"], default: 50, minimum: 0 },
        mode: { title: "Mode", type: "string", enum: ["auto", "manual"] },
        enabled: { title: "Enabled", type: "boolean" },
        secret: { title: "Secret", type: "string", "x-hidden": true },
        pump: {
          title: "Pump",
          type: "object",
          properties: { pin: { title: "Pin", type: "integer" } },
          required: ["pin"],
        },
        setpoints: { title: "Setpoints", type: "array", items: { type: "number" } },
        starts: { title: "Starts", type: "string", format: "date-time" },
      },
      required: ["name", "mode", "pump"],
    },
    config: { name: "north", mode: "manual", pump: { pin: 3 }, setpoints: [1, 2] },
    ui: null,
    ui_cmds: {},
    ui_updated_at: null,
    pending_writes: [],
  };

  function renderForm(canWrite: boolean): Promise<string> {
    return renderToString(
      createSSRApp({
        render: () =>
          h(AppConfigForm, {
            app,
            canWrite,
            hintId: "hint",
            pending: { state: "pending", writeId: "w", createdAt: "", config: null },
            state: IDLE,
            save: async (): Promise<SaveOutcome> => ({ ok: false, message: "no", items: [] }),
          }),
      }),
    ).then(withoutComments);
  }

  it("draws a labelled field for each setting, with the config's values", async () => {
    const html = await renderForm(true);
    for (const label of [
      "Name",
      "Level",
      "Mode",
      "Enabled",
      "Pump",
      "Pin",
      "Setpoints",
      "Starts",
    ]) {
      expect(html).toContain(label);
    }
    expect(html).not.toContain("Secret");
    expect(html).toContain('value="north"');
    expect(html).toContain("Default: 50.");
    expect(html).toMatch(/<label for="config-tank_1-pump-pin"/);
    expect(html).toContain('id="config-tank_1-pump-pin"');
    expect(html).toContain("Setpoints 2");
    expect(html).toContain("Saved settings pending");
    expect(html).not.toMatch(/<fieldset class="config-root" disabled/);
  });

  it("is read-only for a viewer", async () => {
    const html = await renderForm(false);
    expect(html).toMatch(/<fieldset class="config-root" disabled/);
    expect(html).toMatch(/data-testid="app-config-save"[^>]*disabled/);
  });
});
