import type { Experiment, ExperimentState } from "../api/types";
import { formatDuration } from "./format";

/** The longest name the cloud takes. */
export const EXPERIMENT_NAME_MAX = 255;

/** What each state of an experiment means, in words shown next to it. */
export const EXPERIMENT_STATE_TEXT: Record<ExperimentState, string> = {
  planned: "Created, not started yet.",
  running: "Datapoints recorded now belong to it.",
  stopped: "Ended; its datapoints can be exported.",
};

/** The badge class of an experiment's state. */
export function experimentBadge(state: ExperimentState): string {
  if (state === "running") return "badge-ok";
  return state === "planned" ? "badge-pending" : "badge-muted";
}

/** A name typed into the create form, checked as the cloud will: its trimmed text, or why not. */
export function checkExperimentName(
  text: string,
): { ok: true; name: string } | { ok: false; message: string } {
  const name = text.trim();
  if (!name) return { ok: false, message: "Enter a name for the experiment." };
  if (name.length > EXPERIMENT_NAME_MAX) {
    return { ok: false, message: `The name is longer than ${EXPERIMENT_NAME_MAX} characters.` };
  }
  return { ok: true, name };
}

/** How long it ran (or has run until `now`, while running); null when it never started. */
export function experimentDuration(
  experiment: Pick<Experiment, "started_on" | "stopped_on">,
  now: number = Date.now(),
): string | null {
  if (!experiment.started_on) return null;
  const start = Date.parse(experiment.started_on);
  const end = experiment.stopped_on ? Date.parse(experiment.stopped_on) : now;
  if (Number.isNaN(start) || Number.isNaN(end)) return null;
  return formatDuration(Math.max(0, (end - start) / 1000));
}

/** The one running experiment of a list, if any (the cloud allows at most one). */
export function runningOf(experiments: readonly Experiment[]): Experiment | null {
  return experiments.find((e) => e.state === "running") ?? null;
}

/** The REST path of an experiment's CSV export. */
export function experimentCsvPath(publicId: string): string {
  return `/api/v1/experiments/${encodeURIComponent(publicId)}/export/csv`;
}
