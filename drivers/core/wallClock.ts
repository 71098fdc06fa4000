/**
 * A reading of a device's clock: local wall-clock time with no zone. Door
 * terminals keep local time and say nothing of their zone, so a reading stays
 * a set of fields until the agent, which knows the campus's zone, turns it
 * into an instant.
 */
export interface WallClock {
  year: number;
  /** 1–12 */
  month: number;
  /** 1–31 */
  day: number;
  hour: number;
  minute: number;
  second: number;
}
