/** What the app UI and config form components share with their nested parts. */
import { inject, type InjectionKey, type Ref } from "vue";
import type { WriteState } from "../../composables/useDeviceApps";
import type { InteractionNode } from "../../lib/appUi";
import type { FieldErrors, Path } from "../../lib/schemaForm";

/** One app's interactions: who may act, and how a value is written. */
export interface AppUiContext {
  /** False for viewers: controls are shown disabled, with the hint `hintId` names. */
  canWrite: Ref<boolean>;
  /** The id of the element that says why controls are disabled (for aria-describedby). */
  hintId: string;
  /** Prefix of the element ids of this app (unique on the page). */
  idPrefix: string;
  send: (node: InteractionNode, value: unknown) => Promise<boolean>;
  state: (node: InteractionNode) => WriteState;
}

export const APP_UI: InjectionKey<AppUiContext> = Symbol("app-ui");

export function useAppUi(): AppUiContext {
  const context = inject(APP_UI);
  if (!context) throw new Error("App UI components need an app around them.");
  return context;
}

/** One config form: its values and messages, by field path. */
export interface ConfigFormContext {
  values: Ref<Record<string, unknown>>;
  /** The messages to show now (the form's checks after a save attempt, and the cloud's). */
  errors: Ref<FieldErrors>;
  disabled: Ref<boolean>;
  setValue: (path: Path, value: unknown) => void;
  /** A field that cannot hold its text as a value (JSON that does not parse) reports it here. */
  setLocalError: (path: Path, message: string | null) => void;
  idFor: (path: Path) => string;
}

export const CONFIG_FORM: InjectionKey<ConfigFormContext> = Symbol("config-form");

export function useConfigForm(): ConfigFormContext {
  const context = inject(CONFIG_FORM);
  if (!context) throw new Error("Config fields need a config form around them.");
  return context;
}

/** An element id made of anything (names, paths): letters, digits, "-" and "_" only. */
export function safeId(...parts: (string | number)[]): string {
  return parts
    .map((part) => String(part).replace(/[^A-Za-z0-9_-]+/g, "-"))
    .join("-")
    .replace(/^-+/, "");
}
