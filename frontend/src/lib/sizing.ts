/** How many points to ask the cloud for, given the chart's width in CSS pixels. */

export const MIN_POINTS = 1;
export const MAX_POINTS = 10_000;
/** One bucket per this many pixels keeps the min/max band readable. */
export const PIXELS_PER_POINT = 2;

export function maxPointsForWidth(widthPx: number, pixelsPerPoint = PIXELS_PER_POINT): number {
  if (!Number.isFinite(widthPx) || widthPx <= 0) return MIN_POINTS;
  const wanted = Math.round(widthPx / Math.max(pixelsPerPoint, Number.EPSILON));
  return Math.min(MAX_POINTS, Math.max(MIN_POINTS, wanted));
}
