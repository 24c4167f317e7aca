import type { CommandState } from "../api/types";

/** What each state of a command means, in words a person reads next to it. */
export const COMMAND_STATE_TEXT: Record<CommandState, string> = {
  pending: "Kept in the cloud until the device is connected.",
  delivered: "Handed to the app listening on its channel.",
  refused: "The device could not deliver it.",
  expired: "Its time ran out before the device acted on it.",
};

/** The badge class of a command's state. */
export function commandBadge(state: CommandState): string {
  if (state === "delivered") return "badge-ok";
  if (state === "pending") return "badge-pending";
  return state === "refused" ? "badge-danger" : "badge-muted";
}
