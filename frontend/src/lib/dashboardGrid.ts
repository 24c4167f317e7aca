/**
 * The dashboard's 12-column grid: where a widget sits, what the cloud will refuse, moving and
 * resizing by keyboard, and where a new widget fits. Pure, so it is tested without a page.
 */

/** The cloud's grid: 12 columns, spans of 1–12, at most 1000 rows. */
export const GRID_COLUMNS = 12;
export const SPAN_MAX = 12;
export const GRID_ROWS = 1000;

export interface Placement {
  x: number;
  y: number;
  w: number;
  h: number;
}

export type PlacementField = keyof Placement;
export type PlacementProblems = Partial<Record<PlacementField, string>>;

const isWhole = (value: number) => Number.isInteger(value);

/** What the cloud would refuse about a placement, by field (its own wording); empty if none. */
export function checkPlacement(place: Placement): PlacementProblems {
  const problems: PlacementProblems = {};
  for (const field of ["x", "y"] as const) {
    const value = place[field];
    if (!isWhole(value) || value < 0) problems[field] = `must be a whole number, 0 or more`;
  }
  for (const field of ["w", "h"] as const) {
    const value = place[field];
    if (!isWhole(value) || value < 1 || value > SPAN_MAX) {
      problems[field] = `must be a whole number from 1 to ${SPAN_MAX}`;
    }
  }
  if (!problems.x && !problems.w && place.x + place.w > GRID_COLUMNS) {
    problems.w =
      `x + w is ${place.x + place.w}: the grid has ${GRID_COLUMNS} columns, so a widget at ` +
      `x=${place.x} spans at most ${Math.max(0, GRID_COLUMNS - place.x)}`;
  }
  if (!problems.y && !problems.h && place.y + place.h > GRID_ROWS) {
    problems.y = `y + h is ${place.y + place.h}; the grid has ${GRID_ROWS} rows`;
  }
  return problems;
}

/** CSS grid placement (lines are 1-based). */
export function gridArea(place: Placement): { gridColumn: string; gridRow: string } {
  return {
    gridColumn: `${place.x + 1} / span ${place.w}`,
    gridRow: `${place.y + 1} / span ${place.h}`,
  };
}

/** Reading order, and the order of the one-column stack at phone width: by row, then column. */
export function readingOrder<T extends Placement>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => a.y - b.y || a.x - b.x);
}

function overlap(a: Placement, b: Placement): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

/** The indices of items that overlap another (the editor warns about them). */
export function overlapping(items: readonly Placement[]): Set<number> {
  const found = new Set<number>();
  items.forEach((a, i) => {
    items.forEach((b, j) => {
      if (i < j && overlap(a, b)) {
        found.add(i);
        found.add(j);
      }
    });
  });
  return found;
}

/** The first spot, row by row, where a w×h widget overlaps nothing (below all if none). */
export function firstFreeSpot(
  items: readonly Placement[],
  w: number,
  h: number,
): { x: number; y: number } {
  const width = Math.min(Math.max(1, w), GRID_COLUMNS);
  const bottom = items.reduce((most, item) => Math.max(most, item.y + item.h), 0);
  for (let y = 0; y <= bottom; y += 1) {
    for (let x = 0; x + width <= GRID_COLUMNS; x += 1) {
      const spot = { x, y, w: width, h };
      if (!items.some((item) => overlap(spot, item))) return { x, y };
    }
  }
  return { x: 0, y: bottom };
}

export type Move = "left" | "right" | "up" | "down";
export type Resize = "wider" | "narrower" | "taller" | "shorter";

/** One step of a keyboard move, kept on the grid (a step off it changes nothing). */
export function moved(place: Placement, direction: Move): Placement {
  const dx = direction === "left" ? -1 : direction === "right" ? 1 : 0;
  const dy = direction === "up" ? -1 : direction === "down" ? 1 : 0;
  const x = Math.min(Math.max(0, place.x + dx), GRID_COLUMNS - place.w);
  const y = Math.min(Math.max(0, place.y + dy), GRID_ROWS - place.h);
  return { ...place, x, y };
}

/** One step of a keyboard resize, kept on the grid. */
export function resized(place: Placement, change: Resize): Placement {
  const dw = change === "wider" ? 1 : change === "narrower" ? -1 : 0;
  const dh = change === "taller" ? 1 : change === "shorter" ? -1 : 0;
  const w = Math.min(Math.max(1, place.w + dw), SPAN_MAX, GRID_COLUMNS - place.x);
  const h = Math.min(Math.max(1, place.h + dh), SPAN_MAX, GRID_ROWS - place.y);
  return { ...place, w, h };
}

/** Whether a step is possible (the button that would do nothing is disabled). */
export function canMove(place: Placement, direction: Move): boolean {
  const next = moved(place, direction);
  return next.x !== place.x || next.y !== place.y;
}

export function canResize(place: Placement, change: Resize): boolean {
  const next = resized(place, change);
  return next.w !== place.w || next.h !== place.h;
}

/** The placement fields of anything that has them. */
export function placementOf(item: Placement): Placement {
  return { x: item.x, y: item.y, w: item.w, h: item.h };
}

export function samePlacement(a: Placement, b: Placement): boolean {
  return a.x === b.x && a.y === b.y && a.w === b.w && a.h === b.h;
}
