/**
 * The plugins page: the plugin instances of one scope (a device's, or the WebMACS
 * controllers' without a device), page by page, what an admin changes in them, and the
 * channels of the one that is open with the events they feed.
 */
import { computed, ref, toValue, watch, type MaybeRefOrGetter } from "vue";
import { api, call } from "../api/client";
import { fetchDevices } from "../api/requests";
import type { components } from "../api/schema";
import type { Device } from "../api/types";
import { clampPage, lastPage, pageBefore } from "../lib/paging";
import { useAction, useRowActions } from "./useAction";
import { usePolling } from "./usePolling";
import { useResource } from "./useResource";

type Schemas = components["schemas"];
export type PluginInstance = Schemas["PluginInstanceOut"];
export type PluginPage = Schemas["PluginPage"];
export type PluginInstanceCreate = Schemas["PluginInstanceCreate"];
export type PluginInstanceUpdate = Schemas["PluginInstanceUpdate"];
export type PluginStatus = PluginInstance["status"];
export type PluginDelivery = Schemas["DeliveryOut"];
export type DeliveryState = PluginDelivery["state"];
export type PluginReported = Schemas["ReportedOut"];
export type ChannelMapping = Schemas["ChannelMappingOut"];
export type ChannelMappingCreate = Schemas["ChannelMappingCreate"];
export type PluginEvent = Schemas["EventOut"];

/** How often the list (and the open channels) are asked for again. */
export const PLUGINS_POLL_MS = 3000;
export const PLUGINS_PAGE_SIZE = 20;
/** The picker's value for the instances bound to no device (a WebMACS controller's). */
export const CONTROLLERS = "controllers";
/** The events offered to map a channel to (one page of the cloud's, by name). */
export const EVENTS_PAGE_SIZE = 100;

// What the cloud checks (cloud/api/routes/plugins.py, cloud/services/plugins.py).
export const PLUGIN_ID_MAX = 100;
export const INSTANCE_NAME_MAX = 255;
export const DEVICE_INSTANCE_NAME_MAX = 64;
export const CONFIG_MAX_BYTES = 16 * 1024;
export const POLL_INTERVAL_MIN_S = 0.05;
export const POLL_INTERVAL_MAX_S = 86_400;
const DEVICE_INSTANCE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** The device a scope is, or null for the controllers' instances. */
export function scopeDeviceId(scope: string): string | null {
  return scope === CONTROLLERS || scope === "" ? null : scope;
}

/** What the form holds: text as typed. */
export interface InstanceDraft {
  pluginId: string;
  instanceName: string;
  configJson: string;
  /** Text, or a number: a `type="number"` input's v-model hands over a number. */
  pollInterval: string | number;
  enabled: boolean;
  demoMode: boolean;
}

export function emptyInstanceDraft(): InstanceDraft {
  return {
    pluginId: "",
    instanceName: "",
    configJson: "{}",
    pollInterval: "1",
    enabled: true,
    demoMode: false,
  };
}

export type ConfigCheck = { ok: true; text: string | null } | { ok: false; message: string };

/**
 * The config as the cloud takes it: a JSON object as text (at most 16 KiB), or null when
 * left empty (no config). Checked here so that nothing is sent when it is not one.
 */
export function checkConfigJson(text: string): ConfigCheck {
  if (text.trim() === "") return { ok: true, text: null };
  const bytes = new TextEncoder().encode(text).length;
  if (bytes > CONFIG_MAX_BYTES) {
    return {
      ok: false,
      message: `The config is ${bytes} bytes; at most ${CONFIG_MAX_BYTES} (16 KiB) are taken.`,
    };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { ok: false, message: `The config is not valid JSON: ${reason}` };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    const kind = Array.isArray(value) ? "an array" : value === null ? "null" : typeof value;
    return { ok: false, message: `The config must be a JSON object ({…}), not ${kind}.` };
  }
  return { ok: true, text };
}

/** The form field a problem is about (its input gets `aria-invalid` and the focus). */
export type InstanceField = "pluginId" | "instanceName" | "configJson" | "pollInterval";

export type InstanceCheck =
  { ok: true; body: PluginInstanceCreate } | { ok: false; field: InstanceField; message: string };

function number(text: string | number): number | null {
  if (typeof text === "number") return Number.isFinite(text) ? text : null;
  if (text.trim() === "") return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : null;
}

/**
 * The draft as the body the cloud takes, for the device `deviceId` (null: the controllers'),
 * or the first problem, checked as the cloud checks it.
 */
export function checkInstanceDraft(draft: InstanceDraft, deviceId: string | null): InstanceCheck {
  const fail = (field: InstanceField, message: string): InstanceCheck => ({
    ok: false,
    field,
    message,
  });
  const pluginId = draft.pluginId.trim();
  if (!pluginId) return fail("pluginId", "Enter the plugin's id, e.g. simulated.");
  if (pluginId.length > PLUGIN_ID_MAX) {
    return fail("pluginId", `The plugin id is longer than ${PLUGIN_ID_MAX} characters.`);
  }
  const name = draft.instanceName.trim();
  if (!name) return fail("instanceName", "Enter a name for the instance.");
  if (deviceId !== null && !DEVICE_INSTANCE_NAME.test(name)) {
    return fail(
      "instanceName",
      `On a device the name is 1–${DEVICE_INSTANCE_NAME_MAX} letters, digits, _ or - ` +
        "(it also names the instance's channel), and cannot be changed later.",
    );
  }
  if (name.length > INSTANCE_NAME_MAX) {
    return fail("instanceName", `The name is longer than ${INSTANCE_NAME_MAX} characters.`);
  }
  const config = checkConfigJson(draft.configJson);
  if (!config.ok) return fail("configJson", config.message);
  const interval = number(draft.pollInterval);
  if (interval === null || interval < POLL_INTERVAL_MIN_S || interval > POLL_INTERVAL_MAX_S) {
    return fail(
      "pollInterval",
      `Enter the poll interval in seconds, ${POLL_INTERVAL_MIN_S} to ${POLL_INTERVAL_MAX_S}.`,
    );
  }
  return {
    ok: true,
    body: {
      plugin_id: pluginId,
      instance_name: name,
      config_json: config.text,
      poll_interval_s: interval,
      enabled: draft.enabled,
      demo_mode: draft.demoMode,
      auto_create_events: true,
      device_id: deviceId,
    },
  };
}

/** What each status means, in words a person reads next to it. */
export const STATUS_TEXT: Record<PluginStatus, string> = {
  inactive: "Not running: disabled, or its host has not reported it running.",
  connected: "Running: its host reports it polling.",
  error: "Its host reports an error (see the message).",
  demo: "Running in demo mode.",
};

export function statusBadge(status: PluginStatus): string {
  if (status === "connected") return "badge-ok";
  if (status === "demo") return "badge-delivered";
  return status === "error" ? "badge-danger" : "badge-muted";
}

/** How far the newest change to a device's instances got, in words. */
export const DELIVERY_TEXT: Record<DeliveryState, string> = {
  pending: "Waiting for the device: kept in the cloud until it connects.",
  delivered: "The device has it; waiting for it to apply it.",
  applied: "Applied on the device.",
  refused: "The device refused it.",
};

export function deliveryBadge(state: DeliveryState): string {
  if (state === "applied") return "badge-ok";
  if (state === "delivered") return "badge-delivered";
  return state === "refused" ? "badge-danger" : "badge-pending";
}

/** The sentence next to an instance's delivery (its badge shows the state itself). */
export function deliveryText(instance: Pick<PluginInstance, "device_id" | "delivery">): string {
  if (instance.device_id === null) return "A WebMACS controller reads it from the cloud.";
  const delivery = instance.delivery;
  if (delivery === null) return "Nothing sent to the device yet.";
  const text = DELIVERY_TEXT[delivery.state];
  return delivery.detail ? `${text} ${delivery.detail}` : text;
}

/** What the device's plugin host last said of the instance, in a few words. */
export function reportedText(reported: PluginReported | null): string {
  if (reported === null) return "No report yet";
  const restarts =
    reported.restarts > 0
      ? ` · ${reported.restarts} restart${reported.restarts === 1 ? "" : "s"}`
      : "";
  return `${reported.state}${restarts}`;
}

/** A channel the device reported that no mapping covers yet (not stored in the cloud). */
export function isReportedOnly(channel: ChannelMapping): boolean {
  return channel.public_id === null;
}

/** What a channel row says of its mapping. */
export function mappingText(channel: ChannelMapping, events: readonly PluginEvent[]): string {
  const event = events.find((e) => e.public_id === channel.event_public_id);
  const name = event ? event.name : channel.event_public_id;
  if (isReportedOnly(channel)) {
    return name
      ? `Reported by the device, not mapped: its values register as ${name}.`
      : "Reported by the device, not mapped yet.";
  }
  return name ? `Mapped to ${name}.` : "Mapped to no event.";
}

export function eventLabel(event: PluginEvent): string {
  return event.unit ? `${event.name} (${event.unit})` : event.name;
}

/** The page's REST calls (a test hands in its own). */
export interface PluginRequests {
  fetchDevices: () => Promise<Device[]>;
  fetchInstances: (deviceId: string | null, page: number, pageSize: number) => Promise<PluginPage>;
  createInstance: (body: PluginInstanceCreate) => Promise<{ message: string }>;
  updateInstance: (id: string, body: PluginInstanceUpdate) => Promise<{ message: string }>;
  deleteInstance: (id: string) => Promise<{ message: string }>;
  fetchChannels: (id: string) => Promise<ChannelMapping[]>;
  fetchEvents: () => Promise<PluginEvent[]>;
  createMapping: (id: string, body: ChannelMappingCreate) => Promise<{ message: string }>;
  updateMapping: (
    id: string,
    mappingId: string,
    eventId: string | null,
  ) => Promise<{ message: string }>;
  deleteMapping: (id: string, mappingId: string) => Promise<{ message: string }>;
}

export const pluginRequests: PluginRequests = {
  fetchDevices,
  fetchInstances: (deviceId, page, pageSize) =>
    call(
      api.GET("/api/v1/plugins", {
        params: {
          query: { page, page_size: pageSize, ...(deviceId ? { device_id: deviceId } : {}) },
        },
      }),
    ),
  createInstance: (body) => call(api.POST("/api/v1/plugins", { body })),
  updateInstance: (id, body) =>
    call(api.PUT("/api/v1/plugins/{public_id}", { params: { path: { public_id: id } }, body })),
  deleteInstance: (id) =>
    call(api.DELETE("/api/v1/plugins/{public_id}", { params: { path: { public_id: id } } })),
  fetchChannels: (id) =>
    call(api.GET("/api/v1/plugins/{public_id}/channels", { params: { path: { public_id: id } } })),
  fetchEvents: async () =>
    (
      await call(
        api.GET("/api/v1/events", { params: { query: { page: 1, page_size: EVENTS_PAGE_SIZE } } }),
      )
    ).data,
  createMapping: (id, body) =>
    call(
      api.POST("/api/v1/plugins/{public_id}/channels", {
        params: { path: { public_id: id } },
        body,
      }),
    ),
  updateMapping: (id, mappingId, eventId) =>
    call(
      api.PUT("/api/v1/plugins/{public_id}/channels/{mapping_id}", {
        params: { path: { public_id: id, mapping_id: mappingId } },
        body: { event_public_id: eventId },
      }),
    ),
  deleteMapping: (id, mappingId) =>
    call(
      api.DELETE("/api/v1/plugins/{public_id}/channels/{mapping_id}", {
        params: { path: { public_id: id, mapping_id: mappingId } },
      }),
    ),
};

/** A problem the form's own check found: the field it is about, and what to do. */
export interface InstanceProblem {
  field: InstanceField;
  message: string;
}

/** `problem` is null when the cloud refused it (its message is in `createError`). */
export type CreateOutcome = { ok: true } | { ok: false; problem: InstanceProblem | null };

/**
 * The plugins page's state and actions for the scope `scope` (a device id, or
 * {@link CONTROLLERS}), without timers (so it can be tested); {@link usePlugins} polls it.
 */
export function createPlugins(
  scope: MaybeRefOrGetter<string>,
  requests: PluginRequests = pluginRequests,
) {
  const deviceId = computed(() => scopeDeviceId(toValue(scope)));
  const devices = useResource(requests.fetchDevices);
  const page = ref(1);
  const listing = useResource(() =>
    requests.fetchInstances(deviceId.value, page.value, PLUGINS_PAGE_SIZE),
  );
  const instances = computed<PluginInstance[]>(() => listing.data.value?.data ?? []);
  const total = computed(() => listing.data.value?.total ?? 0);
  const pages = computed(() => lastPage(total.value, PLUGINS_PAGE_SIZE));
  /** The listing as AsyncState takes it: its data is the page's rows. */
  const list = { ...listing, data: computed(() => listing.data.value?.data ?? null) };

  const notice = ref<string | null>(null);

  // Create: the form's own check first (nothing is sent when it fails), then the cloud's.
  const creating = useAction();

  async function create(draft: InstanceDraft): Promise<CreateOutcome> {
    notice.value = null;
    const checked = checkInstanceDraft(draft, deviceId.value);
    if (!checked.ok) {
      creating.error.value = null;
      return { ok: false, problem: { field: checked.field, message: checked.message } };
    }
    const done = await creating.run(async () => {
      const answer = await requests.createInstance(checked.body);
      notice.value = `${checked.body.instance_name}: ${answer.message}`;
      // The new instance is the newest: on the last page.
      page.value = lastPage(total.value + 1, PLUGINS_PAGE_SIZE);
      await listing.reload();
    });
    return done ? { ok: true } : { ok: false, problem: null };
  }

  const { acting, action, act } = useRowActions(notice);

  const setEnabled = (instance: PluginInstance, enabled: boolean) =>
    act(`toggle:${instance.public_id}`, async () => {
      await requests.updateInstance(instance.public_id, { enabled });
      notice.value = `${instance.instance_name} ${enabled ? "enabled" : "disabled"}.`;
      await listing.reload();
    });

  const remove = (instance: PluginInstance) =>
    act(`delete:${instance.public_id}`, async () => {
      const answer = await requests.deleteInstance(instance.public_id);
      notice.value = `${instance.instance_name}: ${answer.message}`;
      if (openId.value === instance.public_id) openId.value = null;
      await listing.reload();
      // The last row of a later page went: show the page before it.
      const before =
        instances.value.length === 0
          ? pageBefore(page.value, total.value, PLUGINS_PAGE_SIZE)
          : null;
      if (before !== null) {
        page.value = before;
        await listing.reload();
      }
    });

  async function goToPage(target: number): Promise<void> {
    const next = clampPage(target, pages.value);
    if (next === page.value) return;
    page.value = next;
    openId.value = null;
    await listing.reload();
  }

  // The channels of the open instance, and the events they may feed.
  const openId = ref<string | null>(null);
  const open = computed(() => instances.value.find((i) => i.public_id === openId.value) ?? null);
  const channels = useResource(
    () => (openId.value ? requests.fetchChannels(openId.value) : Promise.resolve([])),
    { immediate: false },
  );
  const events = useResource(requests.fetchEvents, { immediate: false });
  const mapping = useAction();
  const mappingBusy = ref<string | null>(null);
  /** The last mapping change's outcome, shown with the channels. */
  const mappingNotice = ref<string | null>(null);

  watch(openId, (id) => {
    channels.data.value = null;
    channels.error.value = null;
    mappingNotice.value = null;
    mapping.error.value = null;
    if (id === null) return;
    void channels.reload();
    if (events.data.value === null) void events.reload();
  });

  function toggleChannels(instance: PluginInstance): void {
    openId.value = openId.value === instance.public_id ? null : instance.public_id;
  }

  async function mapChannels(key: string, task: () => Promise<string>): Promise<boolean> {
    const id = openId.value;
    if (id === null) return false;
    mappingNotice.value = null;
    mappingBusy.value = key;
    try {
      return await mapping.run(async () => {
        mappingNotice.value = await task();
        await channels.reload();
      });
    } finally {
      mappingBusy.value = null;
    }
  }

  /** Map a channel to `eventId` (null: to none): a new mapping for a reported channel. */
  function setChannelEvent(channel: ChannelMapping, eventId: string | null): Promise<boolean> {
    const id = openId.value ?? "";
    const mappingId = channel.public_id;
    return mapChannels(`map:${channel.channel_id}`, async () => {
      const answer =
        mappingId === null
          ? await requests.createMapping(id, {
              channel_id: channel.channel_id,
              channel_name: channel.channel_name,
              direction: channel.direction,
              unit: channel.unit,
              event_public_id: eventId,
            })
          : await requests.updateMapping(id, mappingId, eventId);
      return `${channel.channel_name}: ${answer.message}`;
    });
  }

  function removeMapping(channel: ChannelMapping): Promise<boolean> {
    const id = openId.value ?? "";
    const mappingId = channel.public_id;
    if (mappingId === null) return Promise.resolve(false);
    return mapChannels(`remove:${channel.channel_id}`, async () => {
      const answer = await requests.deleteMapping(id, mappingId);
      return `${channel.channel_name}: ${answer.message}`;
    });
  }

  /** Ask again for what a device's report changes: the list, and the open channels. */
  async function refresh(): Promise<void> {
    await Promise.all([listing.reload(), openId.value ? channels.reload() : Promise.resolve()]);
  }

  watch(deviceId, () => {
    page.value = 1;
    openId.value = null;
    notice.value = null;
    creating.error.value = null;
    action.error.value = null;
    void listing.reload();
  });

  return {
    deviceId,
    devices,
    listing,
    list,
    instances,
    total,
    page,
    pages,
    goToPage,
    notice,
    create,
    creating: creating.busy,
    createError: creating.error,
    acting,
    actionError: action.error,
    setEnabled,
    remove,
    openId,
    open,
    toggleChannels,
    channels,
    events,
    mappingBusy,
    mappingNotice,
    mappingError: mapping.error,
    setChannelEvent,
    removeMapping,
    refresh,
  };
}

export type Plugins = ReturnType<typeof createPlugins>;

/** {@link createPlugins}, asked again every {@link PLUGINS_POLL_MS} while the page is open. */
export function usePlugins(
  scope: MaybeRefOrGetter<string>,
  requests: PluginRequests = pluginRequests,
): Plugins {
  const state = createPlugins(scope, requests);
  usePolling(state.refresh, PLUGINS_POLL_MS);
  return state;
}
