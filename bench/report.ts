/** Rounds a figure to three decimals for the JSON reports. */
export function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
