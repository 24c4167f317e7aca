import { ref, shallowRef, type Ref, type ShallowRef } from "vue";
import { describeError } from "../api/client";

export interface Resource<T> {
  data: ShallowRef<T | null>;
  /** The last load's error message (null after a successful load). */
  error: Ref<string | null>;
  /** True while a load is under way. */
  loading: Ref<boolean>;
  reload: () => Promise<void>;
}

/**
 * Loading, error and data of one async source. A reload keeps the data shown until the new
 * data arrives; an answer that was overtaken by a newer reload is dropped.
 */
export function useResource<T>(
  loader: () => Promise<T>,
  options: { immediate?: boolean } = {},
): Resource<T> {
  const data = shallowRef<T | null>(null);
  const error = ref<string | null>(null);
  const loading = ref(false);
  let generation = 0;

  async function reload(): Promise<void> {
    const mine = ++generation;
    loading.value = true;
    try {
      const value = await loader();
      if (mine !== generation) return;
      data.value = value;
      error.value = null;
    } catch (cause) {
      if (mine !== generation) return;
      error.value = describeError(cause);
    } finally {
      if (mine === generation) loading.value = false;
    }
  }

  if (options.immediate !== false) void reload();
  return { data, error, loading, reload };
}
