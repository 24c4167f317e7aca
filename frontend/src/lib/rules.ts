/**
 * The Rules page's logic, free of Vue: the form's draft and its checks (as the cloud checks),
 * how a rule and its state read, and the queue of notification toasts.
 */
import type { Rule, RuleActionType, RuleCreate, RuleOperator } from "../api/types";
import { parseJsonObject } from "./jsonInput";

/** The longest name the cloud takes. */
export const RULE_NAME_MAX = 255;
/** The longest cooldown the cloud takes: a week, in seconds. */
export const COOLDOWN_MAX_SECONDS = 7 * 24 * 3600;
/** WebMACS's default cooldown. */
export const DEFAULT_COOLDOWN_SECONDS = 60;

export const OPERATORS: readonly { value: RuleOperator; label: string }[] = [
  { value: "gt", label: "greater than (>)" },
  { value: "gte", label: "at least (≥)" },
  { value: "lt", label: "less than (<)" },
  { value: "lte", label: "at most (≤)" },
  { value: "eq", label: "equal to (=)" },
  { value: "between", label: "between (inclusive)" },
  { value: "not_between", label: "outside" },
];

export const ACTIONS: readonly { value: RuleActionType; label: string; hint: string }[] = [
  { value: "notification", label: "Dashboard notification", hint: "A toast on open dashboards." },
  { value: "log", label: "Event log entry", hint: "Only the entry every firing writes." },
  { value: "command", label: "Command to a device", hint: "Kept until the device takes it." },
  { value: "webhook", label: "Webhook", hint: "Sent to the webhooks that subscribe." },
];

export const WEBHOOK_EVENTS: readonly string[] = ["sensor.threshold_exceeded", "sensor.reading"];

const SYMBOL: Record<RuleOperator, string> = {
  gt: ">",
  gte: "≥",
  lt: "<",
  lte: "≤",
  eq: "=",
  between: "between",
  not_between: "outside",
};

/** Whether an operator uses the upper threshold too. */
export function isRange(operator: RuleOperator): boolean {
  return operator === "between" || operator === "not_between";
}

/** The condition in words, e.g. `> 80` or `between 10 and 20`. */
export function describeCondition(
  rule: Pick<Rule, "operator" | "threshold" | "threshold_high">,
): string {
  const symbol = SYMBOL[rule.operator];
  if (isRange(rule.operator))
    return `${symbol} ${rule.threshold} and ${rule.threshold_high ?? "?"}`;
  return `${symbol} ${rule.threshold}`;
}

export type RuleStatus = "disabled" | "armed" | "triggered";

/**
 * Disabled; armed (it fires on the next matching value); or triggered (it fired and waits for
 * a value that no longer matches before it can fire again).
 */
export function ruleStatus(rule: Pick<Rule, "enabled" | "armed">): RuleStatus {
  if (!rule.enabled) return "disabled";
  return rule.armed ? "armed" : "triggered";
}

export const STATUS_TEXT: Record<RuleStatus, string> = {
  disabled: "Not evaluated.",
  armed: "Fires on the next matching value (after its cooldown).",
  triggered: "Fired; fires again once a value no longer matches, then matches again.",
};

export function statusBadge(status: RuleStatus): string {
  if (status === "armed") return "badge-ok";
  return status === "triggered" ? "badge-danger" : "badge-muted";
}

/** What the form holds: text as typed. */
export interface RuleDraft {
  name: string;
  sensorId: string;
  operator: RuleOperator;
  threshold: string;
  thresholdHigh: string;
  actionType: RuleActionType;
  webhookEventType: string;
  commandDeviceId: string;
  commandChannel: string;
  commandPayload: string;
  /** Text, or a number: a `type="number"` input's v-model hands over a number. */
  cooldown: string | number;
  enabled: boolean;
}

export function emptyDraft(): RuleDraft {
  return {
    name: "",
    sensorId: "",
    operator: "gt",
    threshold: "",
    thresholdHigh: "",
    actionType: "notification",
    webhookEventType: "",
    commandDeviceId: "",
    commandChannel: "",
    commandPayload: "{}",
    cooldown: String(DEFAULT_COOLDOWN_SECONDS),
    enabled: true,
  };
}

export function draftOf(rule: Rule): RuleDraft {
  return {
    name: rule.name,
    sensorId: rule.sensor_public_id,
    operator: rule.operator,
    threshold: String(rule.threshold),
    thresholdHigh: rule.threshold_high === null ? "" : String(rule.threshold_high),
    actionType: rule.action_type,
    webhookEventType: rule.webhook_event_type ?? "",
    commandDeviceId: rule.command_device_id ?? "",
    commandChannel: rule.command_channel ?? "",
    commandPayload: JSON.stringify(rule.command_payload ?? {}),
    cooldown: String(rule.cooldown_seconds),
    enabled: rule.enabled,
  };
}

/** The form field a problem is about (its input gets `aria-invalid`). */
export type DraftField =
  | "name"
  | "sensorId"
  | "threshold"
  | "thresholdHigh"
  | "commandDeviceId"
  | "commandChannel"
  | "commandPayload"
  | "cooldown";

export type DraftCheck =
  { ok: true; body: RuleCreate } | { ok: false; field: DraftField; message: string };

/** A typed number; a `type="number"` input's v-model may hand over a number already. */
function number(text: string | number): number | null {
  if (typeof text === "number") return Number.isFinite(text) ? text : null;
  if (text.trim() === "") return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : null;
}

/** The draft as the body the cloud takes, or the first problem (checked as the cloud does). */
export function checkDraft(draft: RuleDraft): DraftCheck {
  const fail = (field: DraftField, message: string): DraftCheck => ({ ok: false, field, message });
  const name = draft.name.trim();
  if (!name) return fail("name", "Enter a name for the rule.");
  if (name.length > RULE_NAME_MAX) {
    return fail("name", `The name is longer than ${RULE_NAME_MAX} characters.`);
  }
  if (!draft.sensorId) return fail("sensorId", "Choose the sensor the rule watches.");
  const threshold = number(draft.threshold);
  if (threshold === null) return fail("threshold", "Enter the threshold as a number.");
  let high: number | null = null;
  if (isRange(draft.operator)) {
    high = number(draft.thresholdHigh);
    if (high === null) return fail("thresholdHigh", "Enter the upper threshold as a number.");
    if (high < threshold) {
      return fail("thresholdHigh", "The upper threshold must be at least the lower one.");
    }
  }
  const cooldown = number(draft.cooldown);
  if (cooldown === null || !Number.isInteger(cooldown) || cooldown < 0) {
    return fail("cooldown", "Enter the cooldown as whole seconds (0 or more).");
  }
  if (cooldown > COOLDOWN_MAX_SECONDS) {
    return fail("cooldown", `The cooldown is at most ${COOLDOWN_MAX_SECONDS} seconds (a week).`);
  }
  const body: RuleCreate = {
    name,
    event_public_id: draft.sensorId,
    operator: draft.operator,
    threshold,
    threshold_high: high,
    action_type: draft.actionType,
    cooldown_seconds: cooldown,
    enabled: draft.enabled,
    webhook_event_type: null,
    command_device_id: null,
    command_channel: null,
    command_payload: null,
  };
  if (draft.actionType === "webhook") body.webhook_event_type = draft.webhookEventType || null;
  if (draft.actionType === "command") {
    if (!draft.commandDeviceId) return fail("commandDeviceId", "Choose the device to command.");
    const channel = draft.commandChannel.trim();
    if (!channel) return fail("commandChannel", "Enter the channel the command is for.");
    const payload = parseJsonObject(draft.commandPayload);
    if (!payload.ok) return fail("commandPayload", payload.message);
    body.command_device_id = draft.commandDeviceId;
    body.command_channel = channel;
    body.command_payload = payload.value;
  }
  return { ok: true, body };
}

/** A rule's `notification` as the live stream delivers it. */
export interface RuleNotification {
  message: string;
  ruleId: string;
  ruleName: string;
  sensorId: string;
  value: number;
  /** Epoch milliseconds of the value. */
  t: number;
}

export interface Toast extends RuleNotification {
  id: number;
  /** Epoch milliseconds after which it goes by itself. */
  until: number;
}

/** At most this many toasts show at once; a newer one pushes out the oldest. */
export const MAX_TOASTS = 4;
/** How long a toast stays unless closed. */
export const TOAST_MS = 10_000;

/** The toasts after `notification` arrived at `now`, newest last. */
export function pushToast(
  toasts: readonly Toast[],
  notification: RuleNotification,
  now: number,
  id: number,
): Toast[] {
  const next = [...expireToasts(toasts, now), { ...notification, id, until: now + TOAST_MS }];
  return next.slice(-MAX_TOASTS);
}

/** The toasts still due at `now`. */
export function expireToasts(toasts: readonly Toast[], now: number): Toast[] {
  return toasts.filter((toast) => toast.until > now);
}
