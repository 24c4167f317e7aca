/** The REST requests of the device apps page: the apps, a UI input, a saved config. */
import { api, ApiError, call, errorMessage } from "./client";
import type { AppInfo, ChannelMessage, ChannelWrite, ValidationItemOut } from "./types";

/** A 422 answer: the cloud's message and the items naming the fields (`loc`). */
export class ValidationRejected extends ApiError {
  constructor(
    status: number,
    detail: string,
    readonly items: ValidationItemOut[],
  ) {
    super(status, detail);
  }
}

function validationItems(body: unknown): ValidationItemOut[] | null {
  if (typeof body !== "object" || body === null) return null;
  const detail = (body as { detail?: unknown }).detail;
  if (!Array.isArray(detail)) return null;
  return detail
    .filter((item): item is Record<string, unknown> => typeof item === "object" && item !== null)
    .map((item) => ({
      loc: Array.isArray(item.loc)
        ? item.loc.filter(
            (part): part is string | number => typeof part === "string" || typeof part === "number",
          )
        : [],
      msg: typeof item.msg === "string" ? item.msg : "invalid",
      type: typeof item.type === "string" ? item.type : "",
    }));
}

interface Outcome<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** Like {@link call}, but a 422 with field items throws a {@link ValidationRejected}. */
async function callKeepingFields<T>(request: Promise<Outcome<T>>): Promise<T> {
  let outcome: Outcome<T>;
  try {
    outcome = await request;
  } catch (cause) {
    return call(Promise.reject(cause)); // the same message for an unreachable cloud
  }
  const { error, response } = outcome;
  if (response.status === 422) {
    const items = validationItems(error);
    if (items !== null) {
      throw new ValidationRejected(422, errorMessage(error, 422, response.statusText), items);
    }
  }
  return call(Promise.resolve(outcome));
}

/** The apps of a device, in the cloud's order. */
export function fetchDeviceApps(deviceId: string): Promise<AppInfo[]> {
  return call(
    api.GET("/api/v1/devices/{device_id}/apps", {
      params: { path: { device_id: deviceId } },
    }),
  );
}

/** Merge `patch` into a channel's aggregate on the device (RFC 7396); the answer is the write. */
export function patchAggregate(
  deviceId: string,
  channel: string,
  patch: Record<string, unknown>,
): Promise<ChannelWrite> {
  return callKeepingFields(
    api.PATCH("/api/v1/devices/{device_id}/channels/{channel}/aggregate", {
      params: { path: { device_id: deviceId, channel } },
      body: patch,
    }),
  );
}

/** Save an app's config; a config the schema refuses throws {@link ValidationRejected}. */
export function putAppConfig(
  deviceId: string,
  appKey: string,
  config: Record<string, unknown>,
): Promise<ChannelWrite> {
  return callKeepingFields(
    api.PUT("/api/v1/devices/{device_id}/apps/{app_key}/config", {
      params: { path: { device_id: deviceId, app_key: appKey } },
      body: config,
    }),
  );
}

/**
 * Tell the cloud this page shows the device's apps (a heartbeat): while they come, the apps'
 * `is_being_observed()` is true on the device.
 */
export async function observeDeviceApps(deviceId: string): Promise<void> {
  await call(
    api.POST("/api/v1/devices/{device_id}/apps/observe", {
      params: { path: { device_id: deviceId } },
    }),
  );
}

/** The channel pydoover apps publish their alerts to (what a `ui.AlertStream` shows). */
export const ALERTS_CHANNEL = "significantEvent";

/** The device's newest alerts, newest first; none when it has never sent one. */
export async function fetchDeviceAlerts(deviceId: string, limit = 5): Promise<ChannelMessage[]> {
  try {
    const page = await call(
      api.GET("/api/v1/devices/{device_id}/channels/{channel}/messages", {
        params: { path: { device_id: deviceId, channel: ALERTS_CHANNEL }, query: { limit } },
      }),
    );
    return page.messages;
  } catch (cause) {
    if (cause instanceof ApiError && cause.status === 404) return []; // no such channel yet
    throw cause;
  }
}

/** What the apps page asks of the cloud (a stand-in replaces it in tests). */
export interface AppsRequests {
  fetchApps: (deviceId: string) => Promise<AppInfo[]>;
  patchAggregate: typeof patchAggregate;
  putConfig: typeof putAppConfig;
  observe: (deviceId: string) => Promise<void>;
}

export const appsRequests: AppsRequests = {
  fetchApps: fetchDeviceApps,
  patchAggregate,
  putConfig: putAppConfig,
  observe: observeDeviceApps,
};
