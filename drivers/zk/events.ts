import type { DeviceEvent, IdentifyMethod } from '../core/driver.js';
import { formatWallClock, zkDateTimeToDate, type WallClock } from './frames/time.js';

/** One identification at the terminal, as a log record or a realtime event reports it. */
export interface ZkPunch {
  userId: string;
  verifyMode: number;
  state: number;
  time: WallClock;
}

export type IdentifiedEvent = Extract<DeviceEvent, { type: 'identified' }>;

/**
 * Verify modes by the SDK convention (§2.9): 0 password, 1 fingerprint,
 * 2 card; 15 is face on ZK face terminals (ZK SDK, not in the reference).
 * Firmware adds combined modes the reference cannot name; they count as
 * fingerprint, the terminals' primary method, and log entries keep the code.
 */
const METHODS = new Map<number, IdentifyMethod>([
  [0, 'password'],
  [1, 'fingerprint'],
  [2, 'card'],
  [15, 'face'],
]);

export function identifyMethodOf(verifyMode: number): IdentifyMethod {
  return METHODS.get(verifyMode) ?? 'fingerprint';
}

/**
 * The stable key of one attendance record: the same whether it arrives as a
 * realtime event or in a log download, so the agent can drop the second copy.
 * Built from the terminal serial, the user id, the device's wall-clock time
 * (zone-free, so the host's zone cannot change it), verify mode and state.
 */
export function zkDeviceKey(serialNumber: string, punch: ZkPunch): string {
  // Serial and user id are device text and may hold the separator.
  return ['zk', encodeURIComponent(serialNumber), encodeURIComponent(punch.userId), formatWallClock(punch.time), punch.verifyMode, punch.state].join('/');
}

export function identifiedEvent(serialNumber: string, punch: ZkPunch): IdentifiedEvent {
  return {
    type: 'identified',
    subject: punch.userId,
    method: identifyMethodOf(punch.verifyMode),
    deviceTime: zkDateTimeToDate(punch.time),
    deviceKey: zkDeviceKey(serialNumber, punch),
  };
}
