/** The REST requests that more than one page makes, or that need more than one call. */
import { sortByText } from "../lib/sorting";
import { api, call, describeError, errorMessage } from "./client";
import type {
  Aggregate,
  Channel,
  ChannelMessage,
  Device,
  DeviceCommand,
  Experiment,
  Sensor,
} from "./types";

/** The sensors, by name; only one device's when `deviceId` is given. */
export async function fetchSensors(deviceId?: string): Promise<Sensor[]> {
  const list = await call(
    deviceId === undefined
      ? api.GET("/api/v1/sensors")
      : api.GET("/api/v1/sensors", { params: { query: { device_id: deviceId } } }),
  );
  return sortByText(list, (sensor) => sensor.name);
}

/** Every device, in the cloud's order. */
export function fetchDevices(): Promise<Device[]> {
  return call(api.GET("/api/v1/devices"));
}

/** One channel of a device with its latest message and aggregate, as the device page shows it. */
export interface ChannelDetail {
  channel: Channel;
  latest: ChannelMessage | null;
  aggregate: Aggregate | null;
  /** What failed of the two lookups; the channel is still shown with what did arrive. */
  error: string | null;
}

async function fetchChannelDetail(deviceId: string, channel: Channel): Promise<ChannelDetail> {
  const path = { device_id: deviceId, channel: channel.channel };
  const [messages, aggregate] = await Promise.allSettled([
    call(
      api.GET("/api/v1/devices/{device_id}/channels/{channel}/messages", {
        params: { path, query: { limit: 1 } },
      }),
    ),
    call(api.GET("/api/v1/devices/{device_id}/channels/{channel}/aggregate", { params: { path } })),
  ]);
  const problems = [messages, aggregate]
    .filter((r): r is PromiseRejectedResult => r.status === "rejected")
    .map((r) => describeError(r.reason));
  return {
    channel,
    latest: messages.status === "fulfilled" ? (messages.value.messages[0] ?? null) : null,
    aggregate: aggregate.status === "fulfilled" ? aggregate.value : null,
    error: problems.length > 0 ? problems.join("; ") : null,
  };
}

/** A device's channels by name, each with its latest message and aggregate. */
export async function fetchChannels(deviceId: string): Promise<ChannelDetail[]> {
  const list = await call(
    api.GET("/api/v1/devices/{device_id}/channels", {
      params: { path: { device_id: deviceId } },
    }),
  );
  const sorted = sortByText(list, (channel) => channel.channel);
  return Promise.all(sorted.map((channel) => fetchChannelDetail(deviceId, channel)));
}

/** The cloud's answer to a command: its HTTP status and a sentence to show. */
export interface CommandOutcome {
  status: number;
  text: string;
}

/**
 * Send a command to a device. A refusal (e.g. 409 when the device is offline) is an outcome
 * to show with its status, not an error; only an unreachable cloud throws.
 */
export async function sendCommand(
  deviceId: string,
  channel: string,
  payload: Record<string, unknown>,
): Promise<CommandOutcome> {
  const { data, error, response } = await api.POST("/api/v1/devices/{device_id}/commands", {
    params: { path: { device_id: deviceId } },
    body: { channel, payload },
  });
  const status = response.status;
  if (response.ok && data) {
    return {
      status,
      text:
        `Accepted (HTTP ${status}): command #${data.seq} on “${data.channel}” is kept until ` +
        "the device takes it; its state is listed below.",
    };
  }
  return {
    status,
    text: `Refused (HTTP ${status}): ${errorMessage(error, status, response.statusText)}`,
  };
}

/** The device's newest commands with what became of each, newest first. */
export function fetchCommands(deviceId: string, limit = 20): Promise<DeviceCommand[]> {
  return call(
    api.GET("/api/v1/devices/{device_id}/commands", {
      params: { path: { device_id: deviceId }, query: { limit } },
    }),
  );
}

/** The newest experiments (one page of the cloud's, newest first) and how many there are. */
export async function fetchExperiments(
  pageSize = 100,
): Promise<{ experiments: Experiment[]; total: number }> {
  const page = await call(
    api.GET("/api/v1/experiments", { params: { query: { page: 1, page_size: pageSize } } }),
  );
  return { experiments: page.data, total: page.total };
}

/** Download an experiment's CSV through the API client (it carries the sign-in); resolves to
 * the file's name. */
export async function downloadExperimentCsv(experiment: Experiment): Promise<string> {
  const { data, error, response } = await api.GET("/api/v1/experiments/{public_id}/export/csv", {
    params: { path: { public_id: experiment.public_id } },
    parseAs: "blob",
  });
  const blob = await call(Promise.resolve({ data, error, response }));
  const fromServer = /filename="?([^";]+)"?/.exec(
    response.headers.get("Content-Disposition") ?? "",
  );
  const filename = fromServer?.[1] ?? `experiment_${experiment.public_id.slice(0, 8)}.csv`;
  const url = URL.createObjectURL(blob as Blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return filename;
}
