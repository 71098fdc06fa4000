import type { DeviceEvent, IdentifyMethod } from '../core/driver.js';
import type { AttlogRecord, WallClock } from './codec.js';

export type IdentifiedEvent = Extract<DeviceEvent, { type: 'identified' }>;

/**
 * Verify codes of push uploads, from the verify-mode table of the PUSH
 * manuals ("Attendance PUSH Communication Protocol", appendix "verify
 * modes"): 1 fingerprint only, 2 user id (PIN) only, 3 password only, 4 card
 * only, 15 face; the combined modes are named by their strongest factor, and
 * finger vein counts as fingerprint.
 *
 * device-protocols.md §3.2 says instead that push uploads use the codes of
 * the 40-byte record of §2.9 (0 password, 1 fingerprint, 2 card). The two
 * agree on 1 only; the manual is the push protocol's own document, so it
 * wins here. 0 ("any method") and codes neither source names (palm, 200
 * "other") fall back to fingerprint, the terminals' primary method, as the
 * zk driver does. The code itself is part of every deviceKey.
 */
const METHODS = new Map<number, IdentifyMethod>([
  [1, 'fingerprint'],
  [2, 'pin'],
  [3, 'password'],
  [4, 'card'],
  [5, 'fingerprint'],
  [6, 'fingerprint'],
  [7, 'card'],
  [8, 'fingerprint'],
  [9, 'fingerprint'],
  [10, 'fingerprint'],
  [11, 'card'],
  [12, 'fingerprint'],
  [13, 'fingerprint'],
  [14, 'fingerprint'],
  [15, 'face'],
  [16, 'face'],
  [17, 'face'],
  [18, 'face'],
  [19, 'face'],
  [20, 'face'],
  [21, 'fingerprint'],
  [22, 'fingerprint'],
  [23, 'fingerprint'],
  [24, 'fingerprint'],
]);

export function identifyMethodOf(verify: number): IdentifyMethod {
  return METHODS.get(verify) ?? 'fingerprint';
}

/** `2025-01-06T09:00:05`: zone-free, so it reads the same on every host. */
export function formatWallClock(time: WallClock): string {
  const two = (value: number) => String(value).padStart(2, '0');
  return `${String(time.year).padStart(4, '0')}-${two(time.month)}-${two(time.day)}T${two(time.hour)}:${two(time.minute)}:${two(time.second)}`;
}

/** The wall-clock reading in the host's zone, which is the campus's: terminals keep local time with no zone. */
export function wallClockToDate(time: WallClock): Date {
  const date = new Date(2000, 0, 1, time.hour, time.minute, time.second);
  // setFullYear, because the Date constructor reads years below 100 as 19xx.
  date.setFullYear(time.year, time.month - 1, time.day);
  return date;
}

/**
 * The stable key of one attendance record: the same every time the terminal
 * uploads it again, so the agent can drop the repeats. Built from the
 * serial, the PIN, the terminal's wall-clock time (zone-free, so the host's
 * zone cannot change it), the verify code and the status.
 */
export function zkPushDeviceKey(serial: string, record: AttlogRecord): string {
  // Serial and PIN are device text and may hold the separator.
  return ['zk-push', encodeURIComponent(serial), encodeURIComponent(record.pin), formatWallClock(record.time), record.verify, record.status].join('/');
}

export function identifiedEvent(serial: string, record: AttlogRecord): IdentifiedEvent {
  return {
    type: 'identified',
    subject: record.pin,
    method: identifyMethodOf(record.verify),
    deviceTime: wallClockToDate(record.time),
    deviceKey: zkPushDeviceKey(serial, record),
  };
}
