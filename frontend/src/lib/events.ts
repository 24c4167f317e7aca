import type { LogEntry, LoggingType } from "../api/types";

/** WebMACS's severities, most severe first, with what each means here. */
export const LOGGING_TYPES: readonly LoggingType[] = ["error", "warning", "info"];

export const EVENTS_PAGE_SIZE = 100;

export interface EventFilter {
  /** One severity, or every one. */
  loggingType: LoggingType | "all";
  unreadOnly: boolean;
}

export const DEFAULT_EVENT_FILTER: EventFilter = { loggingType: "all", unreadOnly: false };

/** The `GET /api/v1/logging` query for a filter (newest first is the server's order). */
export function eventQuery(
  filter: EventFilter,
  pageSize = EVENTS_PAGE_SIZE,
): { page: number; page_size: number; logging_type?: LoggingType; status_type?: "unread" } {
  return {
    page: 1,
    page_size: pageSize,
    ...(filter.loggingType === "all" ? {} : { logging_type: filter.loggingType }),
    ...(filter.unreadOnly ? { status_type: "unread" as const } : {}),
  };
}

/** The `PUT /api/v1/logging/read` query that marks what the filter shows read, up to the
 * newest entry shown (entries that arrive meanwhile stay unread). */
export function markAllQuery(
  filter: EventFilter,
  shown: readonly LogEntry[],
): { logging_type?: LoggingType; to_date?: string } {
  const newest = newestOf(shown);
  return {
    ...(filter.loggingType === "all" ? {} : { logging_type: filter.loggingType }),
    ...(newest ? { to_date: newest } : {}),
  };
}

/** The latest `created_on` among `entries`, or null for none. */
export function newestOf(entries: readonly LogEntry[]): string | null {
  let newest: string | null = null;
  for (const entry of entries) {
    if (newest === null || Date.parse(entry.created_on) > Date.parse(newest)) {
      newest = entry.created_on;
    }
  }
  return newest;
}

export function unreadCount(entries: readonly LogEntry[]): number {
  return entries.filter((entry) => entry.status_type === "unread").length;
}

export function loggingBadge(type: LoggingType): string {
  if (type === "error") return "badge-danger";
  return type === "warning" ? "badge-delivered" : "badge-muted";
}

const SOURCE_TEXT: Record<string, string> = {
  device: "Device",
  command: "Command",
  user: "User",
  login: "Login",
  manual: "Note",
  rule: "Rule",
  token: "API token",
};

/** A readable name for an entry's source; an unknown one (a newer cloud's) shows as is. */
export function sourceLabel(source: string): string {
  return SOURCE_TEXT[source] ?? source;
}

/** The entry with its read state changed, for updating the list without a reload. */
export function withStatus(entry: LogEntry, status: LogEntry["status_type"]): LogEntry {
  return { ...entry, status_type: status };
}
