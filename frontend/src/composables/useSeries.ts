import { api, call } from "../api/client";
import type { Series } from "../api/types";
import { toIso } from "../lib/timeRange";
import { useResource, type Resource } from "./useResource";

export interface SeriesQuery {
  sensor: string;
  /** Epoch milliseconds. */
  start: number;
  end: number;
  maxPoints: number;
}

/** One sensor's history over a range, downsampled by the cloud to `maxPoints`. */
export function useSeries(query: () => SeriesQuery | null): Resource<Series | null> {
  return useResource<Series | null>(
    async () => {
      const q = query();
      if (q === null) return null;
      return call(
        api.GET("/api/v1/datapoints", {
          params: {
            query: {
              sensor: q.sensor,
              start: toIso(q.start),
              end: toIso(q.end),
              max_points: q.maxPoints,
            },
          },
        }),
      );
    },
    { immediate: false },
  );
}

/** Download the CSV of a sensor's range through the API client; resolves to the file's name. */
export async function exportCsv(
  sensor: string,
  start: number,
  end: number,
  name: string,
): Promise<string> {
  const { data, error, response } = await api.GET("/api/v1/datapoints/export.csv", {
    params: { query: { sensor: [sensor], start: toIso(start), end: toIso(end) } },
    parseAs: "blob",
  });
  const blob = await call(Promise.resolve({ data, error, response }));
  const fromServer = /filename="?([^";]+)"?/.exec(
    response.headers.get("Content-Disposition") ?? "",
  );
  const safe = name.replace(/[^A-Za-z0-9._-]+/g, "_");
  const filename = fromServer?.[1] ? `${safe}_${fromServer[1]}` : `${safe}.csv`;
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return filename;
}
