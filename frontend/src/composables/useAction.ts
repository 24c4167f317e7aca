import { ref, type Ref } from "vue";
import { describeError } from "../api/client";

export interface Action {
  /** True while a run is under way (to disable the form's submit button). */
  busy: Ref<boolean>;
  /** The last run's error message; null while running and after a run that succeeded. */
  error: Ref<string | null>;
  /** Run `task`; resolves true when it succeeded, false when it threw (its message is in `error`). */
  run: (task: () => Promise<void>) => Promise<boolean>;
}

/**
 * Busy and error state of a user action such as a form submission. A form may still set
 * `error` itself for checks it makes before running (e.g. an empty field).
 */
export function useAction(): Action {
  const busy = ref(false);
  const error = ref<string | null>(null);

  async function run(task: () => Promise<void>): Promise<boolean> {
    error.value = null;
    busy.value = true;
    try {
      await task();
      return true;
    } catch (cause) {
      error.value = describeError(cause);
      return false;
    } finally {
      busy.value = false;
    }
  }

  return { busy, error, run };
}

export interface RowActions {
  /** Which row action runs (a key such as "toggle:<id>"), or null. */
  acting: Ref<string | null>;
  /** The last row action's busy and error state. */
  action: Action;
  /** Run `task` as the row action `key`, after clearing `notice`; true when it succeeded. */
  act: (key: string, task: () => Promise<void>) => Promise<boolean>;
}

/** One row action at a time in a list (toggle, delete…), and which one it is. */
export function useRowActions(notice: Ref<string | null>): RowActions {
  const acting = ref<string | null>(null);
  const action = useAction();

  async function act(key: string, task: () => Promise<void>): Promise<boolean> {
    notice.value = null;
    acting.value = key;
    try {
      return await action.run(task);
    } finally {
      acting.value = null;
    }
  }

  return { acting, action, act };
}
