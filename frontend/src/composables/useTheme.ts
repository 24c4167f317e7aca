import { computed, ref, type ComputedRef } from "vue";

export type Theme = "light" | "dark";

const STORAGE_KEY = "revlink.theme";
const media = window.matchMedia("(prefers-color-scheme: dark)");

function stored(): Theme | null {
  try {
    const value = window.localStorage.getItem(STORAGE_KEY);
    return value === "light" || value === "dark" ? value : null;
  } catch {
    return null;
  }
}

const choice = ref<Theme | null>(stored());
const systemDark = ref(media.matches);
media.addEventListener("change", (event) => (systemDark.value = event.matches));

const theme = computed<Theme>(() => choice.value ?? (systemDark.value ? "dark" : "light"));

function apply(): void {
  document.documentElement.dataset.theme = theme.value;
}

function toggle(): void {
  choice.value = theme.value === "dark" ? "light" : "dark";
  try {
    window.localStorage.setItem(STORAGE_KEY, choice.value);
  } catch {
    // Not remembered without storage.
  }
  apply();
}

/** The page's theme: follows the system until the toggle picks one, which is remembered. */
export function useTheme(): {
  theme: ComputedRef<Theme>;
  toggle: () => void;
  apply: () => void;
} {
  return { theme, toggle, apply };
}
