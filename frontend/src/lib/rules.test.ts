import { describe, expect, it } from "vitest";
import type { Rule } from "../api/types";
import {
  COOLDOWN_MAX_SECONDS,
  MAX_TOASTS,
  RULE_NAME_MAX,
  TOAST_MS,
  checkDraft,
  describeCondition,
  draftOf,
  emptyDraft,
  expireToasts,
  isRange,
  pushToast,
  ruleStatus,
  type RuleDraft,
  type RuleNotification,
} from "./rules";

const SENSOR = "7f0c1e9a-7a55-4a53-9d55-1f0f8b7c2a10";
const DEVICE = "0b5f6c5e-2a39-4d8c-8a39-7d3a6f7b9e21";

function draft(fields: Partial<RuleDraft> = {}): RuleDraft {
  return { ...emptyDraft(), name: "Too hot", sensorId: SENSOR, threshold: "80", ...fields };
}

describe("checkDraft", () => {
  it("builds the body the cloud takes", () => {
    const checked = checkDraft(draft({ name: "  Too hot  " }));
    expect(checked).toEqual({
      ok: true,
      body: {
        name: "Too hot",
        event_public_id: SENSOR,
        operator: "gt",
        threshold: 80,
        threshold_high: null,
        action_type: "notification",
        cooldown_seconds: 60,
        enabled: true,
        webhook_event_type: null,
        command_device_id: null,
        command_channel: null,
        command_payload: null,
      },
    });
  });

  it.each([
    [{ name: " " }, "name"],
    [{ name: "x".repeat(RULE_NAME_MAX + 1) }, "name"],
    [{ sensorId: "" }, "sensorId"],
    [{ threshold: "" }, "threshold"],
    [{ threshold: "abc" }, "threshold"],
    [{ operator: "between" as const, thresholdHigh: "" }, "thresholdHigh"],
    [{ operator: "not_between" as const, thresholdHigh: "79.9" }, "thresholdHigh"],
    [{ cooldown: "-1" }, "cooldown"],
    [{ cooldown: "1.5" }, "cooldown"],
    [{ cooldown: String(COOLDOWN_MAX_SECONDS + 1) }, "cooldown"],
    [{ actionType: "command" as const }, "commandDeviceId"],
    [{ actionType: "command" as const, commandDeviceId: DEVICE }, "commandChannel"],
    [
      {
        actionType: "command" as const,
        commandDeviceId: DEVICE,
        commandChannel: "pump",
        commandPayload: "[1]",
      },
      "commandPayload",
    ],
  ])("refuses %j naming the field", (fields, field) => {
    const checked = checkDraft(draft(fields));
    expect(checked.ok).toBe(false);
    if (!checked.ok) expect(checked.field).toBe(field);
  });

  it("takes the limits at their edges", () => {
    expect(checkDraft(draft({ name: "x".repeat(RULE_NAME_MAX) })).ok).toBe(true);
    expect(checkDraft(draft({ cooldown: String(COOLDOWN_MAX_SECONDS) })).ok).toBe(true);
    expect(checkDraft(draft({ cooldown: "0" })).ok).toBe(true);
    const range = checkDraft(draft({ operator: "between", thresholdHigh: "80" }));
    expect(range.ok && range.body.threshold_high).toBe(80);
  });

  it("sends only the chosen action's fields", () => {
    const command = checkDraft(
      draft({
        actionType: "command",
        commandDeviceId: DEVICE,
        commandChannel: " pump ",
        commandPayload: '{"on": false}',
        webhookEventType: "sensor.reading",
      }),
    );
    expect(command.ok && command.body).toMatchObject({
      command_device_id: DEVICE,
      command_channel: "pump",
      command_payload: { on: false },
      webhook_event_type: null,
    });
    const hook = checkDraft(draft({ actionType: "webhook", commandChannel: "pump" }));
    expect(hook.ok && hook.body).toMatchObject({ webhook_event_type: null, command_channel: null });
    // A threshold_high typed for a range stays out once the operator is not one.
    const single = checkDraft(draft({ operator: "lt", thresholdHigh: "99" }));
    expect(single.ok && single.body.threshold_high).toBeNull();
  });
});

const RULE: Rule = {
  public_id: "r1",
  name: "Too hot",
  event_public_id: SENSOR,
  sensor_public_id: SENSOR,
  sensor_name: "tank.temp",
  operator: "between",
  threshold: 10,
  threshold_high: 20,
  action_type: "command",
  webhook_event_type: null,
  command_device_id: DEVICE,
  command_channel: "pump",
  command_payload: { on: false },
  enabled: true,
  cooldown_seconds: 30,
  armed: false,
  last_triggered_at: "2026-12-02T10:00:00Z",
  created_on: "2026-12-01T10:00:00Z",
  user_public_id: null,
};

describe("a rule as it reads", () => {
  it("describes its condition", () => {
    expect(describeCondition(RULE)).toBe("between 10 and 20");
    expect(describeCondition({ operator: "gte", threshold: 5, threshold_high: null })).toBe("≥ 5");
    expect(isRange("not_between")).toBe(true);
    expect(isRange("eq")).toBe(false);
  });

  it("names its state", () => {
    expect(ruleStatus(RULE)).toBe("triggered");
    expect(ruleStatus({ enabled: true, armed: true })).toBe("armed");
    expect(ruleStatus({ enabled: false, armed: false })).toBe("disabled");
  });

  it("edits back into the same body", () => {
    const checked = checkDraft(draftOf(RULE));
    expect(checked.ok && checked.body).toMatchObject({
      name: RULE.name,
      operator: "between",
      threshold: 10,
      threshold_high: 20,
      command_payload: { on: false },
      cooldown_seconds: 30,
    });
  });
});

describe("toasts", () => {
  const note: RuleNotification = {
    message: "Rule 'x' fired",
    ruleId: "r",
    ruleName: "x",
    sensorId: SENSOR,
    value: 1,
    t: 0,
  };

  it("keeps the newest few and lets each go after its time", () => {
    let toasts = pushToast([], note, 0, 1);
    expect(toasts).toEqual([{ ...note, id: 1, until: TOAST_MS }]);
    for (let id = 2; id <= MAX_TOASTS + 1; id += 1) toasts = pushToast(toasts, note, id, id);
    expect(toasts.map((t) => t.id)).toEqual([2, 3, 4, 5]);
    expect(expireToasts(toasts, TOAST_MS + 2).map((t) => t.id)).toEqual([3, 4, 5]);
    expect(expireToasts(toasts, TOAST_MS + 5)).toEqual([]);
  });
});

describe("a notification on the live stream", () => {
  it("is parsed, and a malformed one ignored", async () => {
    const { parseStreamMessage } = await import("./stream");
    const raw = {
      type: "notification",
      level: "warning",
      message: "Rule 'x': t = 81 (gt 80)",
      rule_public_id: "r1",
      rule_name: "x",
      event_public_id: SENSOR,
      sensor_name: "t",
      value: 81,
      timestamp: "2026-12-02T10:00:00+00:00",
    };
    expect(parseStreamMessage(JSON.stringify(raw))).toEqual({
      kind: "notification",
      notification: {
        message: raw.message,
        ruleId: "r1",
        ruleName: "x",
        sensorId: SENSOR,
        value: 81,
        t: Date.parse(raw.timestamp),
      },
    });
    expect(parseStreamMessage(JSON.stringify({ ...raw, value: "81" }))).toBeNull();
    expect(parseStreamMessage(JSON.stringify({ ...raw, timestamp: "soon" }))).toBeNull();
  });
});

describe("a number input's value", () => {
  it("is taken as a number as well as text", () => {
    const typed = { ...emptyDraft(), name: "n", sensorId: SENSOR, threshold: "1" };
    const asNumber = { ...typed, cooldown: 0 };
    const checked = checkDraft(asNumber);
    expect(checked.ok && checked.body.cooldown_seconds).toBe(0);
  });
});
