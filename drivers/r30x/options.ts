import { linkOptionNames } from '../core/linkFactory.js';
import { TransportUrlError, type TransportUrl } from '../core/transportUrl.js';
import { integerOption, rejectUnknownOptions } from '../core/urlOptions.js';
import { R30X_MODELS, type R30xModel } from './quirks.js';

/**
 * Options of the R30x driver, given as URL query options, e.g.
 * `serial:///dev/ttyUSB0?password=0x1234ABCD&poll=250`:
 *
 *   password=N   Module password sent with VfyPwd on every open. 32-bit,
 *                decimal or 0x-hex; default 0 (the factory password).
 *   address=N    Module address on every packet; the module ignores other
 *                addresses. 32-bit, decimal or 0x-hex; default 0xFFFFFFFF.
 *   baud=N       serial:// only: bits per second, 9600·N for N = 1–12
 *                (9600–115200); default 57600 (the factory setting).
 *   timeout=MS   How long to wait for an ack, and for each data packet of a
 *                template upload, in ms; 50–60000, default 2000 (what
 *                pyfingerprint allows every instruction on real modules,
 *                Search over a full library and Empty included).
 *   retries=N    Resends of a command whose reply timed out, arrived with a
 *                bad checksum, or was answered 0x01 (packet receive error);
 *                also reruns of an operation whose link was lost. 0–10,
 *                default 2.
 *   poll=MS      Interval between captures (GenImg) while watching for a
 *                finger, in ms; 50–10000, default 200. Each poll is one
 *                12-byte command and its ack.
 *   model=NAME   `generic` (default) or `r503`; selects the quirks in
 *                quirks.ts.
 */
export interface R30xOptions {
  password: number;
  address: number;
  baudRate: number;
  replyTimeoutMs: number;
  retries: number;
  pollIntervalMs: number;
  model: R30xModel;
}

export const R30X_DEFAULTS = Object.freeze({
  password: 0,
  address: 0xffffffff,
  baudRate: 57_600,
  replyTimeoutMs: 2_000,
  retries: 2,
  pollIntervalMs: 200,
  model: 'generic' as R30xModel,
  /** Driver option (not in the URL): how long a command waits for a lost link to come back, in ms; 1–600000, default 30000. */
  linkWaitMs: 30_000,
  /** enroll() option: how long to wait for each placement and lift of the finger, in ms; 1000–600000, default 30000. */
  enrollTimeoutMs: 30_000,
});

export const LINK_WAIT_RANGE = { min: 1, max: 600_000 } as const;
export const ENROLL_TIMEOUT_RANGE = { min: 1_000, max: 600_000 } as const;

const R30X_OPTION_NAMES = ['password', 'address', 'timeout', 'retries', 'poll', 'model'] as const;
const BAUD_STEP = 9600;

export function parseR30xOptions(url: TransportUrl): R30xOptions {
  const { options } = url;
  rejectUnknownOptions(options, [...R30X_OPTION_NAMES, ...linkOptionNames(url)]);
  return {
    password: u32Option(options, 'password', R30X_DEFAULTS.password),
    address: u32Option(options, 'address', R30X_DEFAULTS.address),
    baudRate: baudOption(options),
    replyTimeoutMs: integerOption(options, 'timeout', { min: 50, max: 60_000 }, R30X_DEFAULTS.replyTimeoutMs),
    retries: integerOption(options, 'retries', { min: 0, max: 10 }, R30X_DEFAULTS.retries),
    pollIntervalMs: integerOption(options, 'poll', { min: 50, max: 10_000 }, R30X_DEFAULTS.pollIntervalMs),
    model: modelOption(options),
  };
}

/** Passwords and addresses are 32-bit and usually written in hex, so both forms are accepted. */
function u32Option(options: Record<string, string>, name: string, fallback: number): number {
  const text = options[name];
  if (text === undefined) return fallback;
  const value = /^0x[0-9a-f]{1,8}$/i.test(text) ? parseInt(text.slice(2), 16) : /^\d{1,10}$/.test(text) ? Number(text) : NaN;
  if (!(value >= 0 && value <= 0xffffffff)) {
    throw new TransportUrlError(`option ${name}=${JSON.stringify(text)}: expected a 32-bit number, decimal or 0x-hex (0 to 0xFFFFFFFF)`);
  }
  return value;
}

/** The module only runs at multiples of 9600 up to 115200 (device-protocols.md §4.1). */
function baudOption(options: Record<string, string>): number {
  const baud = integerOption(options, 'baud', { min: BAUD_STEP, max: 12 * BAUD_STEP }, R30X_DEFAULTS.baudRate);
  if (baud % BAUD_STEP !== 0) throw new TransportUrlError(`option baud=${baud}: an R30x module runs at 9600·N bits per second, N = 1–12`);
  return baud;
}

function modelOption(options: Record<string, string>): R30xModel {
  const text = options.model ?? R30X_DEFAULTS.model;
  const model = R30X_MODELS.find((known) => known === text.toLowerCase());
  if (!model) throw new TransportUrlError(`option model=${JSON.stringify(text)}: expected one of ${R30X_MODELS.join(', ')}`);
  return model;
}
