import { computed, onMounted, reactive, ref, toValue, watch, type MaybeRefOrGetter } from "vue";
import { describeError } from "../api/client";
import { appsRequests, ValidationRejected, type AppsRequests } from "../api/appsRequests";
import type { AppInfo, ChannelWrite, ValidationItemOut } from "../api/types";
import { commandPayload } from "../lib/appUi";
import { usePolling } from "./usePolling";
import { useResource, type Resource } from "./useResource";

/** How often the page asks for the apps again (their UI, values and pending writes). */
export const APPS_POLL_MS = 2000;
/** How often the page tells the cloud it is still open (well inside the cloud's 15 s ttl). */
export const OBSERVE_MS = 5000;

/** The busy and error state of one kind of write (an interaction, or an app's config). */
export interface WriteState {
  busy: boolean;
  error: string | null;
}

export type SaveOutcome =
  | { ok: true; write: ChannelWrite }
  /** `items` name the refused fields (the cloud's 422 `detail`), when it gave them. */
  | { ok: false; message: string; items: ValidationItemOut[] };

interface Loaded {
  apps: AppInfo[];
  /** The number of the load this answer came from (loads are numbered as they start). */
  load: number;
}

interface SentWrite {
  appKey: string;
  write: ChannelWrite;
  /** The number of loads started when the write was answered; a later load supersedes it. */
  afterLoad: number;
}

export interface DeviceApps {
  resource: Resource<Loaded>;
  /** The apps, in the cloud's order (empty before the first answer). */
  apps: Readonly<{ value: AppInfo[] }>;
  /** The app's writes not applied yet: the cloud's, and the ones just sent it has not listed. */
  writesFor: (app: AppInfo) => ChannelWrite[];
  /** Write an interaction's value to `ui_cmds`; resolves false when refused (see `commandState`). */
  sendCommand: (app: AppInfo, interaction: string, value: unknown) => Promise<boolean>;
  commandState: (app: AppInfo, interaction: string) => WriteState;
  /** Save an app's config (the cloud checks it against the schema). */
  saveConfig: (app: AppInfo, config: Record<string, unknown>) => Promise<SaveOutcome>;
  configState: (app: AppInfo) => WriteState;
  reload: () => Promise<void>;
}

const IDLE: WriteState = Object.freeze({ busy: false, error: null });

/**
 * The apps of a device and the writes a person makes to them, without timers (so it can be
 * tested); {@link useDeviceApps} polls it.
 */
export function createDeviceApps(
  deviceId: MaybeRefOrGetter<string>,
  requests: AppsRequests = appsRequests,
): DeviceApps {
  let loadsStarted = 0;
  const resource = useResource<Loaded>(async () => {
    const load = ++loadsStarted;
    const apps = await requests.fetchApps(toValue(deviceId));
    return { apps, load };
  });
  const sent = ref<SentWrite[]>([]);
  const commandStates = reactive(new Map<string, WriteState>());
  const configStates = reactive(new Map<string, WriteState>());

  const apps = computed(() => resource.data.value?.apps ?? []);
  const shownLoad = computed(() => resource.data.value?.load ?? 0);

  function writesFor(app: AppInfo): ChannelWrite[] {
    const listed = new Set(app.pending_writes.map((w) => w.id));
    const recent = sent.value
      .filter((s) => s.appKey === app.app_key && s.afterLoad >= shownLoad.value)
      .map((s) => s.write)
      .filter((w) => !listed.has(w.id) && w.state !== "applied");
    return [...app.pending_writes, ...recent];
  }

  function remember(appKey: string, write: ChannelWrite): void {
    // Writes that a shown answer already supersedes are dropped as new ones come.
    const keep = sent.value.filter((s) => s.afterLoad >= shownLoad.value);
    sent.value = [...keep, { appKey, write, afterLoad: loadsStarted }];
    void resource.reload();
  }

  const commandKey = (app: AppInfo, name: string) => `${app.app_key}\u0000${name}`;

  async function sendCommand(app: AppInfo, interaction: string, value: unknown): Promise<boolean> {
    const key = commandKey(app, interaction);
    commandStates.set(key, { busy: true, error: null });
    try {
      const write = await requests.patchAggregate(
        toValue(deviceId),
        "ui_cmds",
        commandPayload(interaction, value),
      );
      remember(app.app_key, write);
      commandStates.set(key, { busy: false, error: null });
      return true;
    } catch (cause) {
      commandStates.set(key, { busy: false, error: describeError(cause) });
      return false;
    }
  }

  async function saveConfig(app: AppInfo, config: Record<string, unknown>): Promise<SaveOutcome> {
    configStates.set(app.app_key, { busy: true, error: null });
    try {
      const write = await requests.putConfig(toValue(deviceId), app.app_key, config);
      remember(app.app_key, write);
      configStates.set(app.app_key, { busy: false, error: null });
      return { ok: true, write };
    } catch (cause) {
      const message = describeError(cause);
      configStates.set(app.app_key, { busy: false, error: message });
      const items = cause instanceof ValidationRejected ? cause.items : [];
      return { ok: false, message, items };
    }
  }

  watch(
    () => toValue(deviceId),
    () => {
      sent.value = [];
      commandStates.clear();
      configStates.clear();
      void resource.reload();
    },
  );

  return {
    resource,
    apps,
    writesFor,
    sendCommand,
    commandState: (app, name) => commandStates.get(commandKey(app, name)) ?? IDLE,
    saveConfig,
    configState: (app) => configStates.get(app.app_key) ?? IDLE,
    reload: resource.reload,
  };
}

/** A device's apps, asked for again every {@link APPS_POLL_MS} while the page is open. */
export function useDeviceApps(
  deviceId: MaybeRefOrGetter<string>,
  requests: AppsRequests = appsRequests,
): DeviceApps {
  const state = createDeviceApps(deviceId, requests);
  usePolling(state.reload, APPS_POLL_MS);
  // A missed heartbeat only makes the apps think nobody watches for a while: no error shown.
  const observe = () => requests.observe(toValue(deviceId)).catch(() => undefined);
  onMounted(() => void observe());
  usePolling(observe, OBSERVE_MS);
  return state;
}
