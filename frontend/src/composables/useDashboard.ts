import { computed, onBeforeUnmount, reactive, shallowRef, toValue, watch } from "vue";
import type { MaybeRefOrGetter } from "vue";
import { api, call, describeError } from "../api/client";
import { patchAggregate } from "../api/appsRequests";
import type {
  ChannelWrite,
  Dashboard,
  DashboardWidget,
  WidgetCreate,
  WidgetUpdate,
} from "../api/types";
import { readingOrder, type Placement } from "../lib/dashboardGrid";
import {
  isOn,
  parseConfig,
  togglePatch,
  toggleTarget,
  toggleValues,
  type ToggleTarget,
} from "../lib/widgets";
import { useLiveStream, type LiveStream } from "./useLiveStream";
import { useResource, type Resource } from "./useResource";

/** How often a toggle's write is asked for again until the device applied or refused it. */
export const WRITE_POLL_MS = 1000;
/** How long a toggle's write is followed before the page stops asking (it stays pending). */
export const WRITE_FOLLOW_MS = 5 * 60_000;

// --- the dashboards list ---------------------------------------------------------------

/** The dashboards the caller sees (one page of the cloud's, newest first) and their total. */
export async function fetchDashboards(
  pageSize = 100,
): Promise<{ dashboards: Dashboard[]; total: number }> {
  const page = await call(
    api.GET("/api/v1/dashboards", { params: { query: { page: 1, page_size: pageSize } } }),
  );
  return { dashboards: page.data, total: page.total };
}

export function createDashboard(name: string, isGlobal: boolean): Promise<Dashboard> {
  return call(api.POST("/api/v1/dashboards", { body: { name, is_global: isGlobal } }));
}

export async function updateDashboard(
  publicId: string,
  body: { name?: string; is_global?: boolean },
): Promise<Dashboard> {
  const answer = await call(
    api.PUT("/api/v1/dashboards/{public_id}", { params: { path: { public_id: publicId } }, body }),
  );
  return answer.dashboard;
}

export async function deleteDashboard(publicId: string): Promise<void> {
  await call(
    api.DELETE("/api/v1/dashboards/{public_id}", { params: { path: { public_id: publicId } } }),
  );
}

// --- one dashboard ---------------------------------------------------------------------

/** A toggle's write on its way to the device. */
export interface ToggleState {
  busy: boolean;
  write: ChannelWrite | null;
  error: string | null;
}

const IDLE: ToggleState = Object.freeze({ busy: false, write: null, error: null });

export interface DashboardPage {
  resource: Resource<Dashboard>;
  /** Its widgets by row, then column. */
  widgets: Readonly<{ value: DashboardWidget[] }>;
  live: LiveStream;
  /** The channel names of the devices the toggles write to (null until known). */
  channels: Readonly<{ value: Record<string, string[]> | null }>;
  targetOf: (widget: DashboardWidget) => ToggleTarget | null;
  toggle: (widget: DashboardWidget) => Promise<void>;
  toggleState: (widget: DashboardWidget) => ToggleState;
  addWidget: (body: WidgetCreate) => Promise<DashboardWidget>;
  updateWidget: (widget: DashboardWidget, body: WidgetUpdate) => Promise<DashboardWidget>;
  placeWidget: (widget: DashboardWidget, place: Placement) => Promise<DashboardWidget>;
  removeWidget: (widget: DashboardWidget) => Promise<void>;
  rename: (name: string) => Promise<void>;
}

/**
 * One dashboard: its widgets, their live values (the stream, polling when it is down), the
 * toggles' channel writes followed until the device answers, and the editor's REST calls.
 */
export function useDashboard(publicId: MaybeRefOrGetter<string>): DashboardPage {
  const path = () => ({ public_id: toValue(publicId) });
  const resource = useResource(() =>
    call(api.GET("/api/v1/dashboards/{public_id}", { params: { path: path() } })),
  );
  const widgets = computed(() => readingOrder(resource.data.value?.widgets ?? []));
  const sensorIds = computed<readonly string[]>(() => [
    ...new Set(widgets.value.flatMap((w) => (w.sensor ? [w.sensor.public_id] : []))),
  ]);
  const live = useLiveStream({ sensors: sensorIds });

  // The channels of the toggles' devices, to find which channel a sensor's key names.
  const channels = shallowRef<Record<string, string[]> | null>(null);
  const toggleDevices = computed(() =>
    [
      ...new Set(
        widgets.value
          .filter((w) => w.widget_type === "actuator_toggle" && w.sensor?.device_id)
          .map((w) => w.sensor?.device_id as string),
      ),
    ].sort(),
  );
  let lookups = 0;
  watch(
    () => toggleDevices.value.join(","),
    async () => {
      const mine = ++lookups;
      channels.value = null; // "looking up" until this lookup answers
      const found: Record<string, string[]> = {};
      await Promise.all(
        toggleDevices.value.map(async (deviceId) => {
          try {
            const list = await call(
              api.GET("/api/v1/devices/{device_id}/channels", {
                params: { path: { device_id: deviceId } },
              }),
            );
            found[deviceId] = list.map((c) => c.channel);
          } catch {
            found[deviceId] = []; // shown as "no channel for this sensor"
          }
        }),
      );
      if (mine === lookups) channels.value = found; // a newer lookup may have overtaken it
    },
    { immediate: true },
  );
  const targetOf = (widget: DashboardWidget) =>
    toggleTarget(widget.sensor, channels.value?.[widget.sensor?.device_id ?? ""] ?? []);

  const toggles = reactive(new Map<string, ToggleState>());
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let stopped = false;
  onBeforeUnmount(() => {
    stopped = true;
    for (const timer of timers) clearTimeout(timer);
  });

  function follow(widgetId: string, write: ChannelWrite, until: number): void {
    if (stopped || write.state === "applied" || write.state === "refused") return;
    if (Date.now() > until) return;
    const timer = setTimeout(async () => {
      timers.delete(timer);
      try {
        const now = await call(
          api.GET("/api/v1/devices/{device_id}/channel-writes/{write_id}", {
            params: { path: { device_id: write.device_id, write_id: write.id } },
          }),
        );
        if (toggles.get(widgetId)?.write?.id !== write.id) return; // a newer press took over
        toggles.set(widgetId, { busy: false, write: now, error: null });
        follow(widgetId, now, until);
      } catch (cause) {
        if (toggles.get(widgetId)?.write?.id !== write.id) return;
        toggles.set(widgetId, { busy: false, write, error: describeError(cause) });
        follow(widgetId, write, until);
      }
    }, WRITE_POLL_MS);
    timers.add(timer);
  }

  async function toggle(widget: DashboardWidget): Promise<void> {
    const target = targetOf(widget);
    if (!target || !widget.sensor) return;
    const values = toggleValues(parseConfig(widget.config_json));
    const current = live.latest.value[widget.sensor.public_id]?.value;
    const next = isOn(current, values) ? values.off : values.on;
    toggles.set(widget.public_id, { busy: true, write: null, error: null });
    try {
      const write = await patchAggregate(
        target.deviceId,
        target.channel,
        togglePatch(target.path, next),
      );
      toggles.set(widget.public_id, { busy: false, write, error: null });
      follow(widget.public_id, write, Date.now() + WRITE_FOLLOW_MS);
    } catch (cause) {
      toggles.set(widget.public_id, { busy: false, write: null, error: describeError(cause) });
    }
  }

  const widgetPath = (widget: DashboardWidget) => ({
    public_id: toValue(publicId),
    widget_id: widget.public_id,
  });

  async function addWidget(body: WidgetCreate): Promise<DashboardWidget> {
    const made = await call(
      api.POST("/api/v1/dashboards/{public_id}/widgets", { params: { path: path() }, body }),
    );
    await resource.reload();
    return made;
  }

  async function updateWidget(
    widget: DashboardWidget,
    body: WidgetUpdate,
  ): Promise<DashboardWidget> {
    const answer = await call(
      api.PUT("/api/v1/dashboards/{public_id}/widgets/{widget_id}", {
        params: { path: widgetPath(widget) },
        body,
      }),
    );
    await resource.reload();
    return answer.widget;
  }

  async function removeWidget(widget: DashboardWidget): Promise<void> {
    await call(
      api.DELETE("/api/v1/dashboards/{public_id}/widgets/{widget_id}", {
        params: { path: widgetPath(widget) },
      }),
    );
    await resource.reload();
  }

  async function rename(name: string): Promise<void> {
    await updateDashboard(toValue(publicId), { name });
    await resource.reload();
  }

  return {
    resource,
    widgets,
    live,
    channels,
    targetOf,
    toggle,
    toggleState: (widget) => toggles.get(widget.public_id) ?? IDLE,
    addWidget,
    updateWidget,
    placeWidget: (widget, place) => updateWidget(widget, { ...place }),
    removeWidget,
    rename,
  };
}
