import { onBeforeUnmount, ref, watch, type Ref } from "vue";

/** The width (CSS px) of an element, kept current with a ResizeObserver. */
export function useElementWidth(target: Ref<HTMLElement | null>): Ref<number> {
  const width = ref(0);
  let observer: ResizeObserver | null = null;
  watch(
    target,
    (el) => {
      observer?.disconnect();
      observer = null;
      if (!el) return;
      width.value = el.clientWidth;
      observer = new ResizeObserver(([entry]) => {
        if (entry) width.value = Math.round(entry.contentRect.width);
      });
      observer.observe(el);
    },
    { immediate: true, flush: "post" },
  );
  onBeforeUnmount(() => observer?.disconnect());
  return width;
}
