import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat; 100 on every Linux this runs on. */
const TICKS_PER_SECOND = 100;

export interface ProcessSample {
  at: number;
  /** User plus system CPU time so far, seconds. */
  cpuSeconds: number;
  rssBytes: number;
  /** Peak resident set size so far (VmHWM). */
  peakRssBytes: number;
}

/** One reading of a Linux process's CPU time and memory, from /proc. */
export function sampleProcess(pid: number): ProcessSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name is in parentheses and may hold spaces; the fields after it are space separated.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  return { at: performance.now(), cpuSeconds, rssBytes: kib('VmRSS'), peakRssBytes: kib('VmHWM') };
}

/** CPU use between two samples, as a share of one core (1 = one core busy all the time). */
export function cpuShare(from: ProcessSample, to: ProcessSample): number {
  return (to.cpuSeconds - from.cpuSeconds) / Math.max(0.001, (to.at - from.at) / 1000);
}

export const mib = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
