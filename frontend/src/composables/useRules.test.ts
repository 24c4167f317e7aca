import { describe, expect, it, vi } from "vitest";
import { nextTick } from "vue";
import { ApiError } from "../api/client";
import type { Rule, RuleCreate, RulePage } from "../api/types";
import { RULES_PAGE_SIZE, createRules, type RuleRequests } from "./useRules";

function rule(name: string, extra: Partial<Rule> = {}): Rule {
  return {
    public_id: `id-${name}`,
    name,
    event_public_id: "s-1",
    sensor_public_id: "s-1",
    sensor_name: "Tank",
    operator: "gt",
    threshold: 80,
    threshold_high: null,
    action_type: "notification",
    webhook_event_type: null,
    command_device_id: null,
    command_channel: null,
    command_payload: null,
    enabled: true,
    cooldown_seconds: 60,
    armed: true,
    last_triggered_at: null,
    created_on: "2026-01-01T00:00:00Z",
    user_public_id: null,
    ...extra,
  };
}

const BODY: RuleCreate = {
  name: "x",
  sensor_public_id: "s-1",
  operator: "gt",
  threshold: 80,
  action_type: "notification",
  cooldown_seconds: 60,
  enabled: true,
};

/** A cloud that keeps its rules by name, as the real one lists them. */
function cloud(names: string[]) {
  let stored = names.map((n) => rule(n));
  const sorted = () => [...stored].sort((a, b) => (a.name < b.name ? -1 : 1));
  const requests = {
    fetchRules: vi.fn<RuleRequests["fetchRules"]>(async (page, pageSize): Promise<RulePage> => ({
      page,
      page_size: pageSize,
      total: stored.length,
      data: sorted().slice((page - 1) * pageSize, page * pageSize),
    })),
    createRule: vi.fn<RuleRequests["createRule"]>(async (body) => {
      const made = rule(body.name);
      stored.push(made);
      return { status: "success", message: "Rule successfully created.", rule: made };
    }),
    updateRule: vi.fn<RuleRequests["updateRule"]>(async (id, body) => {
      stored = stored.map((r) =>
        r.public_id === id
          ? { ...r, ...(body.name ? { name: body.name } : {}), enabled: body.enabled ?? r.enabled }
          : r,
      );
      const changed = stored.find((r) => r.public_id === id) ?? rule("?");
      return { status: "success", message: "Rule successfully updated.", rule: changed };
    }),
    deleteRule: vi.fn<RuleRequests["deleteRule"]>(async (id) => {
      stored = stored.filter((r) => r.public_id !== id);
      return { message: "Rule successfully deleted." };
    }),
  };
  return { requests, remove: (name: string) => (stored = stored.filter((r) => r.name !== name)) };
}

/** Names r00, r01, …: `count` of them, in the cloud's order. */
const names = (count: number) =>
  Array.from({ length: count }, (_, i) => `r${String(i).padStart(2, "0")}`);

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i += 1) await Promise.resolve();
  await nextTick();
}

describe("createRules", () => {
  it("lists one page of 20 at a time and moves between pages", async () => {
    const { requests } = cloud(names(45));
    const rules = createRules(requests);
    await settle();
    expect(requests.fetchRules).toHaveBeenLastCalledWith(1, RULES_PAGE_SIZE);
    expect(rules.rules.value).toHaveLength(20);
    expect(rules.total.value).toBe(45);
    expect(rules.pages.value).toBe(3);

    await rules.goToPage(3);
    expect(requests.fetchRules).toHaveBeenLastCalledWith(3, RULES_PAGE_SIZE);
    expect(rules.rules.value.map((r) => r.name)).toEqual(["r40", "r41", "r42", "r43", "r44"]);
    await rules.goToPage(9); // past the end: stays on the last
    expect(rules.page.value).toBe(3);
    await rules.goToPage(0);
    expect(rules.page.value).toBe(1);
  });

  it("refreshes the page shown", async () => {
    const { requests } = cloud(names(45));
    const rules = createRules(requests);
    await settle();
    await rules.goToPage(2);
    await rules.refresh();
    expect(requests.fetchRules).toHaveBeenLastCalledWith(2, RULES_PAGE_SIZE);
    expect(rules.page.value).toBe(2);
  });

  it("shows the page a new rule is on, in the cloud's order", async () => {
    const { requests } = cloud(names(45));
    const rules = createRules(requests);
    await settle();
    // r305 sorts between r30 and r31: the 32nd rule, on page 2.
    expect(await rules.create({ ...BODY, name: "r305" })).toBe(true);
    expect(rules.notice.value).toBe("r305: Rule successfully created.");
    expect(rules.page.value).toBe(2);
    expect(rules.rules.value.map((r) => r.name)).toContain("r305");
    expect(requests.fetchRules).toHaveBeenLastCalledWith(2, RULES_PAGE_SIZE);

    // One that sorts first: back to page 1.
    await rules.create({ ...BODY, name: "a" });
    expect(rules.page.value).toBe(1);
    expect(rules.rules.value[0]?.name).toBe("a");
  });

  it("keeps the page shown when the new rule's page is not found", async () => {
    const { requests } = cloud(names(45));
    const rules = createRules(requests);
    await settle();
    await rules.goToPage(3);
    requests.fetchRules.mockRejectedValueOnce(new ApiError(503, "busy"));
    expect(await rules.create({ ...BODY, name: "r00a" })).toBe(true);
    expect(rules.page.value).toBe(3);
    expect(rules.createError.value).toBeNull();
  });

  it("keeps a refused rule's message", async () => {
    const { requests } = cloud(names(3));
    requests.createRule.mockRejectedValueOnce(new ApiError(409, "a rule named x exists"));
    const rules = createRules(requests);
    await settle();
    expect(await rules.create(BODY)).toBe(false);
    expect(rules.createError.value).toBe("a rule named x exists");
    expect(rules.notice.value).toBeNull();
  });

  it("follows a renamed rule to its page", async () => {
    const { requests } = cloud(names(45));
    const rules = createRules(requests);
    await settle();
    const first = rules.rules.value[0] ?? rule("?");
    expect(await rules.save(first, { ...BODY, name: "z" })).toBe(true);
    expect(rules.notice.value).toBe("z: Rule successfully updated.");
    expect(rules.page.value).toBe(3);
    expect(rules.rules.value.at(-1)?.name).toBe("z");
  });

  it("switches a rule and stays on its page", async () => {
    const { requests } = cloud(names(45));
    const rules = createRules(requests);
    await settle();
    await rules.goToPage(2);
    const target = rules.rules.value[0] ?? rule("?");
    expect(await rules.toggle(target)).toBe(true);
    expect(requests.updateRule).toHaveBeenCalledWith(target.public_id, { enabled: false });
    expect(rules.notice.value).toBe("r20 disabled.");
    expect(rules.page.value).toBe(2);
    expect(rules.rules.value[0]?.enabled).toBe(false);
    expect(rules.acting.value).toBeNull();
  });

  it("steps back one page after deleting the last rule of a page", async () => {
    const { requests } = cloud(names(41));
    const rules = createRules(requests);
    await settle();
    await rules.goToPage(3);
    expect(rules.rules.value.map((r) => r.name)).toEqual(["r40"]);
    expect(await rules.remove(rules.rules.value[0] ?? rule("?"))).toBe(true);
    expect(rules.notice.value).toBe("r40 deleted.");
    expect(rules.page.value).toBe(2);
    expect(rules.rules.value).toHaveLength(20);
    expect(requests.fetchRules).toHaveBeenLastCalledWith(2, RULES_PAGE_SIZE);

    // Not the last of its page: the page stays.
    await rules.remove(rules.rules.value[0] ?? rule("?"));
    expect(rules.page.value).toBe(2);
    expect(rules.total.value).toBe(39);
  });

  it("steps back when a refresh finds the page emptied elsewhere", async () => {
    const { requests, remove } = cloud(names(21));
    const rules = createRules(requests);
    await settle();
    await rules.goToPage(2);
    remove("r20");
    await rules.refresh();
    expect(rules.page.value).toBe(1);
    expect(rules.rules.value).toHaveLength(20);
  });

  it("keeps a refused action's message", async () => {
    const { requests } = cloud(names(3));
    requests.deleteRule.mockRejectedValueOnce(new ApiError(403, "Operators only"));
    const rules = createRules(requests);
    await settle();
    expect(await rules.remove(rules.rules.value[0] ?? rule("?"))).toBe(false);
    expect(rules.actionError.value).toBe("Operators only");
    expect(rules.acting.value).toBeNull();
  });
});
