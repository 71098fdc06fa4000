import type { Hub } from '../hub/app.js';

/** Rounds a figure to three decimals for the JSON reports. */
export function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** The mean of one of the hub's Prometheus histograms over the run; 0 when it has no samples. */
export async function histogramMean(hub: Hub, name: string): Promise<number> {
  const metric = await hub.metrics.registry.getSingleMetric(name)?.get();
  const values = (metric?.values ?? []) as { metricName?: string; value: number }[];
  const sum = values.find((value) => value.metricName === `${name}_sum`)?.value ?? 0;
  const count = values.find((value) => value.metricName === `${name}_count`)?.value ?? 0;
  return count === 0 ? 0 : sum / count;
}
