import { afterAll, beforeEach, describe, expect, it, vi } from "vitest";

// The client takes `fetch` and `Request` when it is made, so the stand-ins come first. Paths
// are relative to the page; here, to a made-up origin.
class PageRequest extends Request {
  constructor(input: RequestInfo | URL, init?: RequestInit) {
    super(typeof input === "string" ? new URL(input, "http://dashboard.test") : input, init);
  }
}
const fetchMock = vi.fn<(request: Request) => Promise<Response>>();
vi.stubGlobal("Request", PageRequest);
vi.stubGlobal("fetch", fetchMock);
const { fetchDeviceApps, patchAggregate, putAppConfig, ValidationRejected } =
  await import("./appsRequests");
const { ApiError } = await import("./client");

afterAll(() => {
  vi.unstubAllGlobals();
});

function answer(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

const WRITE = {
  id: "5b3c",
  device_id: "d",
  channel: "ui_cmds",
  seq: 1,
  patch: { cmds: { tank_1_pump: true } },
  replace: false,
  state: "pending",
  created_at: "2026-01-01T00:00:00Z",
  created_by: null,
  delivered_at: null,
  applied_at: null,
};

describe("the apps requests", () => {
  beforeEach(() => fetchMock.mockReset());

  it("asks for a device's apps", async () => {
    fetchMock.mockResolvedValueOnce(answer(200, []));
    expect(await fetchDeviceApps("dev 1")).toEqual([]);
    const request = fetchMock.mock.calls[0]?.[0] as Request;
    expect(request.method).toBe("GET");
    expect(new URL(request.url).pathname).toBe("/api/v1/devices/dev%201/apps");
  });

  it("patches ui_cmds with the merge patch", async () => {
    fetchMock.mockResolvedValueOnce(answer(202, WRITE));
    const write = await patchAggregate("d", "ui_cmds", { cmds: { tank_1_pump: true } });
    expect(write.id).toBe("5b3c");
    const request = fetchMock.mock.calls[0]?.[0] as Request;
    expect(request.method).toBe("PATCH");
    expect(new URL(request.url).pathname).toBe("/api/v1/devices/d/channels/ui_cmds/aggregate");
    expect(await request.json()).toEqual({ cmds: { tank_1_pump: true } });
  });

  it("keeps the fields of a refused config", async () => {
    const detail = [{ loc: ["body", "level"], msg: "-1 is below the minimum 0", type: "x" }];
    fetchMock.mockResolvedValueOnce(answer(422, { detail }));
    const failure = await putAppConfig("d", "tank_1", { level: -1 }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ValidationRejected);
    expect(failure).toMatchObject({
      status: 422,
      detail: "level: -1 is below the minimum 0",
      items: detail,
    });
    const request = fetchMock.mock.calls[0]?.[0] as Request;
    expect(request.method).toBe("PUT");
    expect(new URL(request.url).pathname).toBe("/api/v1/devices/d/apps/tank_1/config");
  });

  it("answers other failures as the rest of the dashboard does", async () => {
    fetchMock.mockResolvedValueOnce(answer(403, { detail: "Operators only" }));
    await expect(putAppConfig("d", "a", {})).rejects.toMatchObject({
      status: 403,
      detail: "Operators only",
    });
    fetchMock.mockRejectedValueOnce(new TypeError("Failed to fetch"));
    const failure = await patchAggregate("d", "ui_cmds", {}).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ApiError);
    expect(failure).not.toBeInstanceOf(ValidationRejected);
    expect(failure).toMatchObject({ status: 0 });
  });
});
