import type { WallClock } from '../../core/wallClock.js';
import { ZkFrameError, requireBytes, requireInteger } from './errors.js';

export type { WallClock };

/**
 * Packed u32 "ZK time" (GET_TIME, SET_TIME, log records). Every month counts
 * as 31 days, so the value is not a seconds count:
 *   ((Y % 100) × 12 × 31 + (M − 1) × 31 + (D − 1)) × 86400 + (h × 60 + m) × 60 + s
 */
export function encodeZkTime(time: WallClock): number {
  validate(time, 2000, 2099);
  const days = (time.year % 100) * 12 * 31 + (time.month - 1) * 31 + (time.day - 1);
  return days * 86_400 + (time.hour * 60 + time.minute) * 60 + time.second;
}

export function decodeZkTime(value: number): WallClock {
  requireInteger(value, 0, 0xffffffff, 'packed ZK time');
  let rest = value;
  const second = rest % 60;
  rest = Math.floor(rest / 60);
  const minute = rest % 60;
  rest = Math.floor(rest / 60);
  const hour = rest % 24;
  rest = Math.floor(rest / 24);
  const day = (rest % 31) + 1;
  rest = Math.floor(rest / 31);
  const month = (rest % 12) + 1;
  return { year: 2000 + Math.floor(rest / 12), month, day, hour, minute, second };
}

/** Six bytes `YY MM DD hh mm ss`, year 2000 + YY, used by realtime events. */
export function encodeZkTime6(time: WallClock): Buffer {
  validate(time, 2000, 2255);
  return Buffer.from([time.year - 2000, time.month, time.day, time.hour, time.minute, time.second]);
}

export function decodeZkTime6(bytes: Uint8Array, offset = 0): WallClock {
  requireBytes(bytes, offset + 6, 'six-byte ZK time');
  const [year, month, day, hour, minute, second] = bytes.subarray(offset, offset + 6);
  const time = { year: 2000 + year!, month: month!, day: day!, hour: hour!, minute: minute!, second: second! };
  validate(time, 2000, 2255);
  return time;
}

/** The wall-clock fields of `date` in the host's zone, as public clients send them (§2.13 rule 20). */
export function zkDateTimeFromDate(date: Date): WallClock {
  return {
    year: date.getFullYear(),
    month: date.getMonth() + 1,
    day: date.getDate(),
    hour: date.getHours(),
    minute: date.getMinutes(),
    second: date.getSeconds(),
  };
}

export function zkDateTimeToDate(time: WallClock): Date {
  return new Date(time.year, time.month - 1, time.day, time.hour, time.minute, time.second);
}

/** `2024-01-02T03:04:05`: zone-free, so it reads the same on every host. */
export function formatWallClock(time: WallClock): string {
  const two = (value: number) => String(value).padStart(2, '0');
  return `${time.year}-${two(time.month)}-${two(time.day)}T${two(time.hour)}:${two(time.minute)}:${two(time.second)}`;
}

function validate(time: WallClock, minYear: number, maxYear: number): void {
  try {
    requireInteger(time.year, minYear, maxYear, 'year');
    requireInteger(time.month, 1, 12, 'month');
    requireInteger(time.day, 1, 31, 'day');
    requireInteger(time.hour, 0, 23, 'hour');
    requireInteger(time.minute, 0, 59, 'minute');
    requireInteger(time.second, 0, 59, 'second');
  } catch (error) {
    if (error instanceof ZkFrameError) throw new ZkFrameError('range', `${formatWallClock(time)}: ${error.message}`);
    throw error;
  }
}
