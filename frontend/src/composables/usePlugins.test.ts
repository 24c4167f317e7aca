import { describe, expect, it, vi } from "vitest";
import { nextTick, ref } from "vue";
import { ApiError } from "../api/client";
import {
  CONTROLLERS,
  PLUGINS_PAGE_SIZE,
  checkConfigJson,
  checkInstanceDraft,
  createPlugins,
  deliveryBadge,
  deliveryText,
  emptyInstanceDraft,
  mappingText,
  reportedText,
  scopeDeviceId,
  statusBadge,
  type ChannelMapping,
  type InstanceDraft,
  type PluginEvent,
  type PluginInstance,
  type PluginPage,
  type PluginRequests,
} from "./usePlugins";

const DEVICE = "8f0c6d1e-0000-4000-8000-000000000001";

function draft(extra: Partial<InstanceDraft> = {}): InstanceDraft {
  return { ...emptyInstanceDraft(), pluginId: "simulated", instanceName: "sim_1", ...extra };
}

function instance(extra: Partial<PluginInstance> = {}): PluginInstance {
  return {
    public_id: "p-1",
    plugin_id: "simulated",
    instance_name: "sim_1",
    demo_mode: false,
    enabled: true,
    status: "inactive",
    config_json: "{}",
    error_message: null,
    created_on: "2026-01-01T00:00:00Z",
    updated_on: "2026-01-01T00:00:00Z",
    user_public_id: null,
    channel_mappings: [],
    device_id: DEVICE,
    poll_interval_s: 1,
    delivery: { write_id: "w-1", state: "pending", detail: null },
    reported: null,
    ...extra,
  };
}

function channel(extra: Partial<ChannelMapping> = {}): ChannelMapping {
  return {
    public_id: null,
    channel_id: "temp",
    channel_name: "Temperature",
    direction: "input",
    unit: "°C",
    event_public_id: null,
    created_on: null,
    ...extra,
  };
}

function event(extra: Partial<PluginEvent> = {}): PluginEvent {
  return {
    public_id: "e-1",
    name: "Boiler temperature",
    unit: "°C",
    type: "sensor",
    min_value: 0,
    max_value: 100,
    device_id: null,
    key: null,
    created_at: "2026-01-01T00:00:00Z",
    ...extra,
  };
}

describe("checkConfigJson", () => {
  it("takes a JSON object as text, and nothing for an empty config", () => {
    expect(checkConfigJson('{"port": 502}')).toEqual({ ok: true, text: '{"port": 502}' });
    expect(checkConfigJson("  ")).toEqual({ ok: true, text: null });
  });

  it("refuses text that is not JSON, saying why", () => {
    const checked = checkConfigJson("{port: 502}");
    expect(checked.ok).toBe(false);
    expect(!checked.ok && checked.message).toMatch(/^The config is not valid JSON: /);
  });

  it("refuses JSON that is not an object, naming what it is", () => {
    const message = (text: string) => {
      const checked = checkConfigJson(text);
      return checked.ok ? null : checked.message;
    };
    expect(message("[1, 2]")).toBe("The config must be a JSON object ({…}), not an array.");
    expect(message("null")).toBe("The config must be a JSON object ({…}), not null.");
    expect(message("42")).toBe("The config must be a JSON object ({…}), not number.");
    expect(message('"x"')).toBe("The config must be a JSON object ({…}), not string.");
  });

  it("refuses more than 16 KiB, counted in bytes", () => {
    const big = JSON.stringify({ text: "é".repeat(8200) });
    const checked = checkConfigJson(big);
    expect(checked.ok).toBe(false);
    expect(!checked.ok && checked.message).toContain("at most 16384 (16 KiB)");
  });
});

describe("checkInstanceDraft", () => {
  it("builds the body the cloud takes, with the picked device", () => {
    const checked = checkInstanceDraft(
      draft({ configJson: '{"a": 1}', pollInterval: 2.5, demoMode: true, enabled: false }),
      DEVICE,
    );
    expect(checked).toEqual({
      ok: true,
      body: {
        plugin_id: "simulated",
        instance_name: "sim_1",
        config_json: '{"a": 1}',
        poll_interval_s: 2.5,
        enabled: false,
        demo_mode: true,
        auto_create_events: true,
        device_id: DEVICE,
      },
    });
    const controllers = checkInstanceDraft(draft({ instanceName: "Boiler 1" }), null);
    expect(controllers.ok && controllers.body.device_id).toBeNull();
  });

  it("names the field of the first problem", () => {
    const field = (d: InstanceDraft, device: string | null = DEVICE) => {
      const checked = checkInstanceDraft(d, device);
      return checked.ok ? null : checked.field;
    };
    expect(field(draft({ pluginId: " " }))).toBe("pluginId");
    expect(field(draft({ instanceName: "" }))).toBe("instanceName");
    // A device's name also names its channel; a controller's may have spaces.
    expect(field(draft({ instanceName: "Boiler 1" }))).toBe("instanceName");
    expect(field(draft({ instanceName: "Boiler 1" }), null)).toBeNull();
    expect(field(draft({ instanceName: "x".repeat(65) }))).toBe("instanceName");
    expect(field(draft({ configJson: "[]" }))).toBe("configJson");
    expect(field(draft({ pollInterval: "" }))).toBe("pollInterval");
    expect(field(draft({ pollInterval: "0.01" }))).toBe("pollInterval");
    expect(field(draft({ pollInterval: 100_000 }))).toBe("pollInterval");
  });
});

describe("wording", () => {
  it("gives each status and delivery state a badge", () => {
    expect(statusBadge("connected")).toBe("badge-ok");
    expect(statusBadge("error")).toBe("badge-danger");
    expect(statusBadge("inactive")).toBe("badge-muted");
    expect(statusBadge("demo")).toBe("badge-delivered");
    expect(deliveryBadge("pending")).toBe("badge-pending");
    expect(deliveryBadge("delivered")).toBe("badge-delivered");
    expect(deliveryBadge("applied")).toBe("badge-ok");
    expect(deliveryBadge("refused")).toBe("badge-danger");
  });

  it("says how far a change got", () => {
    expect(deliveryText(instance())).toBe(
      "Waiting for the device: kept in the cloud until it connects.",
    );
    expect(
      deliveryText(instance({ delivery: { write_id: "w", state: "refused", detail: "bad" } })),
    ).toBe("The device refused it. bad");
    expect(deliveryText(instance({ delivery: null }))).toBe("Nothing sent to the device yet.");
    expect(deliveryText(instance({ device_id: null, delivery: null }))).toBe(
      "A WebMACS controller reads it from the cloud.",
    );
  });

  it("sums up the host's report", () => {
    expect(reportedText(null)).toBe("No report yet");
    const at = "2026-01-01T00:00:00Z";
    expect(reportedText({ state: "running", error: "", restarts: 0, reported_at: at })).toBe(
      "running",
    );
    expect(reportedText({ state: "error", error: "x", restarts: 1, reported_at: at })).toBe(
      "error · 1 restart",
    );
    expect(reportedText({ state: "running", error: "", restarts: 3, reported_at: at })).toBe(
      "running · 3 restarts",
    );
  });

  it("says what a channel's mapping is", () => {
    const events = [event()];
    expect(mappingText(channel(), events)).toBe("Reported by the device, not mapped yet.");
    expect(mappingText(channel({ event_public_id: "e-1" }), events)).toBe(
      "Reported by the device, not mapped: its values register as Boiler temperature.",
    );
    expect(mappingText(channel({ public_id: "m-1", event_public_id: "e-1" }), events)).toBe(
      "Mapped to Boiler temperature.",
    );
    expect(mappingText(channel({ public_id: "m-1" }), events)).toBe("Mapped to no event.");
  });

  it("reads the picker's scope", () => {
    expect(scopeDeviceId(CONTROLLERS)).toBeNull();
    expect(scopeDeviceId(DEVICE)).toBe(DEVICE);
  });
});

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i += 1) await Promise.resolve();
  await nextTick();
}

function pageOf(data: PluginInstance[], page = 1, total = data.length): PluginPage {
  return { page, page_size: PLUGINS_PAGE_SIZE, total, data };
}

function stand(pages: PluginPage[] = [pageOf([instance()])]) {
  let call = 0;
  const requests = {
    fetchDevices: vi.fn<PluginRequests["fetchDevices"]>(async () => []),
    fetchInstances: vi.fn<PluginRequests["fetchInstances"]>(
      async () => pages[Math.min(call++, pages.length - 1)] ?? pageOf([]),
    ),
    createInstance: vi.fn<PluginRequests["createInstance"]>(async () => ({
      message: "Plugin instance created.",
    })),
    updateInstance: vi.fn<PluginRequests["updateInstance"]>(async () => ({
      message: "Plugin instance updated.",
    })),
    deleteInstance: vi.fn<PluginRequests["deleteInstance"]>(async () => ({
      message: "Plugin instance successfully deleted.",
    })),
    fetchChannels: vi.fn<PluginRequests["fetchChannels"]>(async () => [channel()]),
    fetchEvents: vi.fn<PluginRequests["fetchEvents"]>(async () => [event()]),
    createMapping: vi.fn<PluginRequests["createMapping"]>(async () => ({
      message: "Channel mapping created.",
    })),
    updateMapping: vi.fn<PluginRequests["updateMapping"]>(async () => ({
      message: "Channel mapping updated.",
    })),
    deleteMapping: vi.fn<PluginRequests["deleteMapping"]>(async () => ({
      message: "Channel mapping successfully deleted.",
    })),
  };
  return requests;
}

describe("createPlugins", () => {
  it("lists the chosen scope's instances, and starts over on page 1 for another", async () => {
    const requests = stand([pageOf([instance()], 1, 45)]);
    const scope = ref(DEVICE);
    const plugins = createPlugins(scope, requests);
    await settle();
    expect(requests.fetchInstances).toHaveBeenLastCalledWith(DEVICE, 1, PLUGINS_PAGE_SIZE);
    expect(plugins.instances.value.map((i) => i.instance_name)).toEqual(["sim_1"]);
    expect(plugins.pages.value).toBe(3);

    plugins.toggleChannels(instance());
    await plugins.goToPage(3);
    expect(requests.fetchInstances).toHaveBeenLastCalledWith(DEVICE, 3, PLUGINS_PAGE_SIZE);
    expect(plugins.openId.value).toBeNull(); // its row is not on this page
    await plugins.goToPage(9); // past the end: stays on the last
    expect(plugins.page.value).toBe(3);

    scope.value = CONTROLLERS;
    await settle();
    expect(plugins.page.value).toBe(1);
    expect(requests.fetchInstances).toHaveBeenLastCalledWith(null, 1, PLUGINS_PAGE_SIZE);
  });

  it("sends nothing for a config that is not a JSON object", async () => {
    const requests = stand();
    const plugins = createPlugins(DEVICE, requests);
    await settle();
    const outcome = await plugins.create(draft({ configJson: "{oops" }));
    expect(outcome.ok).toBe(false);
    expect(!outcome.ok && outcome.problem?.field).toBe("configJson");
    expect(requests.createInstance).not.toHaveBeenCalled();
  });

  it("creates in the picked device's scope and shows the cloud's word, or its refusal", async () => {
    const requests = stand();
    const plugins = createPlugins(DEVICE, requests);
    await settle();
    expect(await plugins.create(draft())).toEqual({ ok: true });
    expect(requests.createInstance.mock.calls[0]?.[0]).toMatchObject({
      device_id: DEVICE,
      instance_name: "sim_1",
    });
    expect(plugins.notice.value).toBe("sim_1: Plugin instance created.");
    expect(requests.fetchInstances).toHaveBeenCalledTimes(2);

    requests.createInstance.mockRejectedValueOnce(
      new ApiError(409, "device already has a plugin instance 'sim_1'"),
    );
    expect(await plugins.create(draft())).toEqual({ ok: false, problem: null });
    expect(plugins.createError.value).toBe("device already has a plugin instance 'sim_1'");
  });

  it("disables and deletes an instance, stepping back from a page left empty", async () => {
    const one = instance();
    const requests = stand([
      pageOf([one], 2, 21),
      pageOf([{ ...one, enabled: false }], 2, 21),
      pageOf([], 2, 20),
      pageOf([instance({ public_id: "p-0" })], 1, 20),
    ]);
    const plugins = createPlugins(DEVICE, requests);
    await settle();
    plugins.page.value = 2;

    expect(await plugins.setEnabled(one, false)).toBe(true);
    expect(requests.updateInstance).toHaveBeenCalledWith("p-1", { enabled: false });
    expect(plugins.notice.value).toBe("sim_1 disabled.");
    expect(plugins.instances.value[0]?.enabled).toBe(false);

    plugins.toggleChannels(one);
    expect(await plugins.remove(one)).toBe(true);
    expect(requests.deleteInstance).toHaveBeenCalledWith("p-1");
    expect(plugins.openId.value).toBeNull();
    expect(plugins.page.value).toBe(1);
    expect(requests.fetchInstances).toHaveBeenLastCalledWith(DEVICE, 1, PLUGINS_PAGE_SIZE);
    expect(plugins.instances.value.map((i) => i.public_id)).toEqual(["p-0"]);
  });

  it("keeps a refused change's message", async () => {
    const requests = stand();
    requests.updateInstance.mockRejectedValueOnce(new ApiError(403, "Admins only"));
    const plugins = createPlugins(DEVICE, requests);
    await settle();
    expect(await plugins.setEnabled(instance(), false)).toBe(false);
    expect(plugins.actionError.value).toBe("Admins only");
    expect(plugins.acting.value).toBeNull();
  });

  it("opens an instance's channels, and maps, changes and removes a mapping", async () => {
    const requests = stand();
    const plugins = createPlugins(DEVICE, requests);
    await settle();
    plugins.toggleChannels(instance());
    await settle();
    expect(requests.fetchChannels).toHaveBeenCalledWith("p-1");
    expect(requests.fetchEvents).toHaveBeenCalledTimes(1);
    expect(plugins.channels.data.value?.map((c) => c.channel_id)).toEqual(["temp"]);

    // A reported channel gets a mapping of its own.
    expect(await plugins.setChannelEvent(channel(), "e-1")).toBe(true);
    expect(requests.createMapping).toHaveBeenCalledWith("p-1", {
      channel_id: "temp",
      channel_name: "Temperature",
      direction: "input",
      unit: "°C",
      event_public_id: "e-1",
    });
    // A stored one changes its event, or clears it.
    const mapped = channel({ public_id: "m-1", event_public_id: "e-1" });
    await plugins.setChannelEvent(mapped, null);
    expect(requests.updateMapping).toHaveBeenCalledWith("p-1", "m-1", null);
    await plugins.removeMapping(mapped);
    expect(requests.deleteMapping).toHaveBeenCalledWith("p-1", "m-1");
    expect(plugins.mappingNotice.value).toBe("Temperature: Channel mapping successfully deleted.");
    requests.updateMapping.mockRejectedValueOnce(new ApiError(409, "event already takes values"));
    expect(await plugins.setChannelEvent(mapped, "e-2")).toBe(false);
    expect(plugins.mappingError.value).toBe("event already takes values");
    expect(plugins.mappingBusy.value).toBeNull();
    expect(await plugins.removeMapping(channel())).toBe(false);

    // A refresh asks for the open channels too; closing stops that.
    const asked = requests.fetchChannels.mock.calls.length;
    await plugins.refresh();
    expect(requests.fetchChannels).toHaveBeenCalledTimes(asked + 1);
    plugins.toggleChannels(instance());
    await plugins.refresh();
    expect(requests.fetchChannels).toHaveBeenCalledTimes(asked + 1);
  });
});
