import { ZkCommand } from './codes.js';

/**
 * How a session treats each request, kept beside the codes rather than at the
 * call sites:
 *   retryable      a timed-out attempt may be sent again; false where a repeat
 *                  would change the outcome (upload steps append to the
 *                  device's buffer) or is pointless (restart, exit)
 *   timeoutFactor  the device may take this many times the base reply timeout
 *                  (it builds a dataset, erases flash, or sends a 64 KiB chunk)
 */
export interface RequestTraits {
  readonly retryable: boolean;
  readonly timeoutFactor: number;
}

const DEFAULT_TRAITS: RequestTraits = Object.freeze({ retryable: true, timeoutFactor: 1 });

const TRAITS = new Map<number, RequestTraits>([
  [ZkCommand.PREPARE_BUFFER, { retryable: true, timeoutFactor: 4 }],
  [ZkCommand.READ_BUFFER, { retryable: true, timeoutFactor: 2 }],
  [ZkCommand.CLEAR_ATTLOG, { retryable: true, timeoutFactor: 4 }],
  [ZkCommand.CLEAR_DATA, { retryable: true, timeoutFactor: 4 }],
  [ZkCommand.PREPARE_DATA, { retryable: false, timeoutFactor: 1 }],
  [ZkCommand.DATA, { retryable: false, timeoutFactor: 1 }],
  [ZkCommand.CHECKSUM_BUFFER, { retryable: false, timeoutFactor: 1 }],
  [ZkCommand.TMP_WRITE, { retryable: false, timeoutFactor: 2 }],
  [ZkCommand.SAVE_USERTEMPS, { retryable: false, timeoutFactor: 4 }],
  [ZkCommand.RESTART, { retryable: false, timeoutFactor: 1 }],
  [ZkCommand.POWEROFF, { retryable: false, timeoutFactor: 1 }],
  [ZkCommand.EXIT, { retryable: false, timeoutFactor: 1 }],
]);

export function requestTraits(command: number): RequestTraits {
  return TRAITS.get(command) ?? DEFAULT_TRAITS;
}
