import createClient, { type Middleware } from "openapi-fetch";
import type { paths } from "./schema";
import { token, tokenRefused } from "./session";

/** An API call that failed: HTTP status (0 when the cloud was unreachable) and its message. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly status: number,
    readonly detail: string,
  ) {
    super(detail);
  }
}

interface ValidationItem {
  loc?: (string | number)[];
  msg?: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The human-readable message of a FastAPI error body (`{"detail": str | [{loc, msg}]}`). */
export function errorMessage(body: unknown, status: number, statusText = ""): string {
  if (isRecord(body)) {
    const detail = body.detail;
    if (typeof detail === "string" && detail) return detail;
    if (Array.isArray(detail) && detail.length > 0) {
      return detail
        .map((item: ValidationItem) => {
          const where = (item.loc ?? []).filter((part) => part !== "body").join(".");
          return where ? `${where}: ${item.msg ?? "invalid"}` : (item.msg ?? "invalid");
        })
        .join("; ");
    }
    if (typeof body.message === "string" && body.message) return body.message;
  }
  if (typeof body === "string" && body.trim()) return body.trim().slice(0, 300);
  return `Request failed: HTTP ${status}${statusText ? ` ${statusText}` : ""}`;
}

const auth: Middleware = {
  onRequest({ request }) {
    const current = token.value;
    if (current && !request.url.endsWith("/api/v1/auth/login")) {
      request.headers.set("Authorization", `Bearer ${current}`);
    }
    return request;
  },
  onResponse({ request, response }) {
    // A refused token (expired, revoked, logged out elsewhere) ends the session, unless this
    // tab has just replaced it.
    const sent = request.headers.get("Authorization");
    if (response.status === 401 && sent !== null) void tokenRefused(sent.replace(/^Bearer /, ""));
    return response;
  },
};

/** The one REST client of the dashboard; every call goes through it. */
export const api = createClient<paths>({ baseUrl: "" });
api.use(auth);

interface Outcome<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** Await an openapi-fetch call and return its data, or throw an {@link ApiError}. */
export async function call<T>(request: Promise<Outcome<T>>): Promise<T> {
  let outcome: Outcome<T>;
  try {
    outcome = await request;
  } catch (cause) {
    if (cause instanceof DOMException && cause.name === "AbortError") throw cause;
    throw new ApiError(0, "Cannot reach the cloud. Check the connection and try again.");
  }
  const { data, error, response } = outcome;
  if (!response.ok || error !== undefined) {
    throw new ApiError(response.status, errorMessage(error, response.status, response.statusText));
  }
  return data as T;
}

/** Turn anything thrown into a message to show. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) return error.detail;
  if (error instanceof Error) return error.message;
  return String(error);
}
