/**
 * The Rules page's list and what an operator does with it: the rules page by page, in the
 * cloud's order (by name: cloud/rules/store.py), and creating, changing, switching and
 * deleting one, each followed by the page that shows the outcome.
 */
import { computed, ref } from "vue";
import { api, call } from "../api/client";
import type { components } from "../api/schema";
import type { Rule, RuleCreate, RulePage, RuleUpdate } from "../api/types";
import { clampPage, findIndex, lastPage, pageBefore, pageOfIndex } from "../lib/paging";
import { useAction, useRowActions } from "./useAction";
import { usePolling } from "./usePolling";
import { useResource } from "./useResource";

/** The cloud's answer to a write: its message and the rule as it is afterwards. */
export type RuleAnswer = components["schemas"]["RuleStatus"];

/** How often the page is asked for again, so a rule that fired shows it without a reload. */
export const RULES_POLL_MS = 3_000;
export const RULES_PAGE_SIZE = 20;

/** The page's REST calls (a test hands in its own). */
export interface RuleRequests {
  fetchRules: (page: number, pageSize: number) => Promise<RulePage>;
  createRule: (body: RuleCreate) => Promise<RuleAnswer>;
  updateRule: (id: string, body: RuleUpdate) => Promise<RuleAnswer>;
  deleteRule: (id: string) => Promise<{ message: string }>;
}

export const ruleRequests: RuleRequests = {
  fetchRules: (page, pageSize) =>
    call(api.GET("/api/v1/rules", { params: { query: { page, page_size: pageSize } } })),
  createRule: (body) => call(api.POST("/api/v1/rules", { body })),
  updateRule: (id, body) =>
    call(api.PUT("/api/v1/rules/{public_id}", { params: { path: { public_id: id } }, body })),
  deleteRule: (id) =>
    call(api.DELETE("/api/v1/rules/{public_id}", { params: { path: { public_id: id } } })),
};

/** The Rules page's state and actions, without timers (so it can be tested). */
export function createRules(requests: RuleRequests = ruleRequests) {
  const page = ref(1);
  const listing = useResource(() => requests.fetchRules(page.value, RULES_PAGE_SIZE));
  const rules = computed<Rule[]>(() => listing.data.value?.data ?? []);
  const total = computed(() => listing.data.value?.total ?? 0);
  const pages = computed(() => lastPage(total.value, RULES_PAGE_SIZE));
  /** The listing as AsyncState takes it: its data is the page's rows. */
  const list = { ...listing, data: computed(() => listing.data.value?.data ?? null) };

  /**
   * Ask for the page shown again. When it came back without rows although it is past the
   * first (its last rule went, here or elsewhere), show the one before it instead.
   */
  async function refresh(): Promise<void> {
    await listing.reload();
    const shown = listing.data.value;
    if (shown === null || shown.data.length > 0 || shown.page !== page.value) return;
    const before = pageBefore(page.value, shown.total, RULES_PAGE_SIZE);
    if (before === null) return;
    page.value = before;
    await listing.reload();
  }

  async function goToPage(target: number): Promise<void> {
    const next = clampPage(target, pages.value);
    if (next === page.value) return;
    page.value = next;
    await listing.reload();
  }

  /** Show the page the rule `id` is on (the page shown, if it is not found). */
  async function showRule(id: string): Promise<void> {
    let index: number | null = null;
    try {
      index = await findIndex(requests.fetchRules, (rule) => rule.public_id === id);
    } catch {
      // The rule was written; only its page is unknown. The page shown is asked for again.
    }
    if (index !== null) page.value = pageOfIndex(index, RULES_PAGE_SIZE);
    await refresh();
  }

  const notice = ref<string | null>(null);
  const creating = useAction();
  const saving = useAction();

  /** Create it, then show the page it is on; false when the cloud refused it. */
  function create(body: RuleCreate): Promise<boolean> {
    notice.value = null;
    return creating.run(async () => {
      const answer = await requests.createRule(body);
      notice.value = `${answer.rule.name}: ${answer.message}`;
      await showRule(answer.rule.public_id);
    });
  }

  /** Change it; a new name may move it to another page, which is then shown. */
  function save(rule: Rule, body: RuleUpdate): Promise<boolean> {
    notice.value = null;
    return saving.run(async () => {
      const answer = await requests.updateRule(rule.public_id, body);
      notice.value = `${answer.rule.name}: ${answer.message}`;
      if (answer.rule.name !== rule.name) await showRule(answer.rule.public_id);
      else await refresh();
    });
  }

  const { acting, action, act } = useRowActions(notice);

  const toggle = (rule: Rule) =>
    act(`toggle:${rule.public_id}`, async () => {
      const answer = await requests.updateRule(rule.public_id, { enabled: !rule.enabled });
      notice.value = `${answer.rule.name} ${answer.rule.enabled ? "enabled" : "disabled"}.`;
      await refresh();
    });

  /** Delete it; when it was the last on its page, the page before it is shown. */
  const remove = (rule: Rule) =>
    act(`delete:${rule.public_id}`, async () => {
      await requests.deleteRule(rule.public_id);
      notice.value = `${rule.name} deleted.`;
      await refresh();
    });

  return {
    listing,
    list,
    rules,
    total,
    page,
    pages,
    goToPage,
    refresh,
    notice,
    create,
    creating: creating.busy,
    createError: creating.error,
    save,
    saving: saving.busy,
    saveError: saving.error,
    acting,
    actionError: action.error,
    toggle,
    remove,
  };
}

export type Rules = ReturnType<typeof createRules>;

/** {@link createRules}, its page asked for again every {@link RULES_POLL_MS} while open. */
export function useRules(requests: RuleRequests = ruleRequests): Rules {
  const state = createRules(requests);
  usePolling(state.refresh, RULES_POLL_MS);
  return state;
}
