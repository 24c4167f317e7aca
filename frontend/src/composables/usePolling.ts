import { onBeforeUnmount, onMounted } from "vue";

/**
 * Run `task` now and then every `intervalMs` after the previous run finished, while the
 * component is mounted. A hidden tab pauses; coming back runs it at once.
 */
export function usePolling(task: () => Promise<unknown>, intervalMs: number): void {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(run, intervalMs);
  };
  async function run(): Promise<void> {
    timer = null;
    if (document.visibilityState === "hidden") return;
    try {
      await task();
    } finally {
      if (timer === null) schedule();
    }
  }
  const onVisibility = () => {
    if (document.visibilityState === "visible" && timer !== null) {
      clearTimeout(timer);
      void run();
    }
  };

  onMounted(() => {
    schedule();
    document.addEventListener("visibilitychange", onVisibility);
  });
  onBeforeUnmount(() => {
    stopped = true;
    if (timer !== null) clearTimeout(timer);
    document.removeEventListener("visibilitychange", onVisibility);
  });
}
