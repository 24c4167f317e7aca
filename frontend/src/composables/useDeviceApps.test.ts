import { describe, expect, it, vi } from "vitest";
import { nextTick, ref } from "vue";
import { ApiError } from "../api/client";
import { ValidationRejected, type AppsRequests } from "../api/appsRequests";
import type { AppInfo, ChannelWrite } from "../api/types";
import { createDeviceApps } from "./useDeviceApps";

function app(extra: Partial<AppInfo> = {}): AppInfo {
  return {
    app_key: "tank_1",
    display_name: "Tank 1",
    config_schema: null,
    config: {},
    ui: { type: "uiApplication", children: {} },
    ui_cmds: {},
    ui_updated_at: null,
    pending_writes: [],
    ...extra,
  };
}

function channelWrite(id: string, extra: Partial<ChannelWrite> = {}): ChannelWrite {
  return {
    id,
    device_id: "dev-1",
    channel: "ui_cmds",
    seq: 1,
    detail: null,
    patch: { cmds: { tank_1_pump: true } },
    replace: false,
    state: "pending",
    created_at: "2026-01-01T00:00:00Z",
    created_by: "op@example.com",
    delivered_at: null,
    applied_at: null,
    ...extra,
  };
}

/** A promise with its resolve and reject, to answer a request when the test says so. */
function deferred<T>() {
  let resolve: (value: T) => void = () => undefined;
  let reject: (error: unknown) => void = () => undefined;
  const promise = new Promise<T>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { promise, resolve, reject };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i += 1) await Promise.resolve();
  await nextTick();
}

function stand(answers: AppInfo[][]) {
  let call = 0;
  const requests = {
    fetchApps: vi.fn(async () => answers[Math.min(call++, answers.length - 1)] ?? []),
    observe: vi.fn(async () => undefined),
    patchAggregate: vi.fn<AppsRequests["patchAggregate"]>(async () => channelWrite("w1")),
    putConfig: vi.fn<AppsRequests["putConfig"]>(async () =>
      channelWrite("c1", { channel: "deployment_config" }),
    ),
  };
  return requests;
}

describe("createDeviceApps", () => {
  it("loads the device's apps", async () => {
    const requests = stand([[app()]]);
    const apps = createDeviceApps("dev-1", requests);
    await settle();
    expect(requests.fetchApps).toHaveBeenCalledWith("dev-1");
    expect(apps.apps.value.map((a) => a.app_key)).toEqual(["tank_1"]);
    expect(apps.resource.error.value).toBeNull();
  });

  it("writes an interaction to ui_cmds and shows it pending until a later answer", async () => {
    // First answer: nothing pending. Second (after the write): the cloud lists it.
    // Third: applied, so no longer pending.
    const listed = channelWrite("w1", { state: "delivered" });
    const requests = stand([[app()], [app({ pending_writes: [listed] })], [app()]]);
    const apps = createDeviceApps("dev-1", requests);
    await settle();
    const answer = deferred<ChannelWrite>();
    requests.patchAggregate.mockReturnValueOnce(answer.promise);

    const sending = apps.sendCommand(apps.apps.value[0] as AppInfo, "tank_1_pump", true);
    expect(requests.patchAggregate).toHaveBeenCalledWith("dev-1", "ui_cmds", {
      cmds: { tank_1_pump: true },
    });
    expect(apps.commandState(apps.apps.value[0] as AppInfo, "tank_1_pump")).toEqual({
      busy: true,
      error: null,
    });
    // Before the cloud's answer arrives, the shown list has nothing pending.
    expect(apps.writesFor(apps.apps.value[0] as AppInfo)).toEqual([]);

    answer.resolve(channelWrite("w1"));
    expect(await sending).toBe(true);
    const first = apps.apps.value[0] as AppInfo;
    expect(apps.commandState(first, "tank_1_pump")).toEqual({ busy: false, error: null });
    // The write shows at once, before any new answer.
    expect(apps.writesFor(first).map((w) => [w.id, w.state])).toEqual([["w1", "pending"]]);

    // The write asked for a new answer; it lists the write (delivered): one copy, the cloud's.
    await settle();
    expect(requests.fetchApps).toHaveBeenCalledTimes(2);
    const second = apps.apps.value[0] as AppInfo;
    expect(apps.writesFor(second).map((w) => [w.id, w.state])).toEqual([["w1", "delivered"]]);

    // Once applied, the cloud no longer lists it, and neither does the page.
    await apps.reload();
    expect(apps.writesFor(apps.apps.value[0] as AppInfo)).toEqual([]);
  });

  it("keeps a sent write while the answer shown is older than it", async () => {
    const requests = stand([[app()]]);
    const apps = createDeviceApps("dev-1", requests);
    await settle();
    // A load under way when the write is answered may not include it; so may its answer.
    const slow = deferred<AppInfo[]>();
    const after = deferred<AppInfo[]>();
    requests.fetchApps.mockReturnValueOnce(slow.promise).mockReturnValueOnce(after.promise);
    const loading = apps.reload();
    await apps.sendCommand(apps.apps.value[0] as AppInfo, "tank_1_pump", true);
    slow.resolve([app()]);
    await loading;
    await settle();
    expect(apps.writesFor(apps.apps.value[0] as AppInfo).map((w) => w.id)).toEqual(["w1"]);
    // The load that started after the write lists it: shown once, as the cloud has it.
    after.resolve([app({ pending_writes: [channelWrite("w1", { state: "delivered" })] })]);
    await settle();
    const shown = apps.writesFor(apps.apps.value[0] as AppInfo);
    expect(shown.map((w) => [w.id, w.state])).toEqual([["w1", "delivered"]]);
  });

  it("keeps the error of a refused write", async () => {
    const requests = stand([[app()]]);
    requests.patchAggregate.mockRejectedValueOnce(new ApiError(403, "Operators only"));
    const apps = createDeviceApps("dev-1", requests);
    await settle();
    const target = apps.apps.value[0] as AppInfo;
    expect(await apps.sendCommand(target, "tank_1_pump", true)).toBe(false);
    expect(apps.commandState(target, "tank_1_pump")).toEqual({
      busy: false,
      error: "Operators only",
    });
    expect(apps.commandState(target, "tank_1_other")).toEqual({ busy: false, error: null });
    expect(apps.writesFor(target)).toEqual([]);
  });

  it("saves a config, and hands back the fields the cloud refused", async () => {
    const requests = stand([[app({ config_schema: { type: "object" } })]]);
    const apps = createDeviceApps("dev-1", requests);
    await settle();
    const target = apps.apps.value[0] as AppInfo;

    const saved = await apps.saveConfig(target, { level: 3 });
    expect(requests.putConfig).toHaveBeenCalledWith("dev-1", "tank_1", { level: 3 });
    expect(saved).toMatchObject({ ok: true, write: { id: "c1" } });
    expect(apps.writesFor(target).map((w) => w.channel)).toEqual(["deployment_config"]);

    const items = [{ loc: ["body", "level"], msg: "too low", type: "config_invalid" }];
    requests.putConfig.mockRejectedValueOnce(new ValidationRejected(422, "level: too low", items));
    const refused = await apps.saveConfig(target, { level: -1 });
    expect(refused).toEqual({ ok: false, message: "level: too low", items });
    expect(apps.configState(target)).toEqual({ busy: false, error: "level: too low" });

    requests.putConfig.mockRejectedValueOnce(new ApiError(0, "Cannot reach the cloud."));
    expect(await apps.saveConfig(target, {})).toEqual({
      ok: false,
      message: "Cannot reach the cloud.",
      items: [],
    });
  });

  it("starts over for another device", async () => {
    const requests = stand([[app()]]);
    const device = ref("dev-1");
    const apps = createDeviceApps(device, requests);
    await settle();
    await apps.sendCommand(apps.apps.value[0] as AppInfo, "tank_1_pump", true);
    requests.patchAggregate.mockRejectedValueOnce(new Error("no"));
    await apps.sendCommand(apps.apps.value[0] as AppInfo, "tank_1_mode", "x");

    device.value = "dev-2";
    await settle();
    expect(requests.fetchApps).toHaveBeenLastCalledWith("dev-2");
    const target = apps.apps.value[0] as AppInfo;
    expect(apps.writesFor(target)).toEqual([]);
    expect(apps.commandState(target, "tank_1_mode").error).toBeNull();
  });
});
