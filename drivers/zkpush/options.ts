import { TransportUrlError } from '../core/transportUrl.js';
import { booleanOption, integerOption, rejectUnknownOptions, type IntegerRange } from '../core/urlOptions.js';

/**
 * Options of the push receiver, given as the URL it listens on, e.g.
 * `http://0.0.0.0:8081?serials=ABC123,DEF456&delay=10`. The host and port are
 * where terminals' "ADMS" / "Cloud Server" setting points; port 0 picks a
 * free port (tests). Query options:
 *
 *   serials=A,B       Serial numbers of the terminals allowed to push;
 *                     others are refused with 403 and reported. Required;
 *                     1–64 characters each of letters, digits, `.`, `_`, `-`.
 *   delay=S           Seconds between a terminal's command polls (`Delay`),
 *                     which also serve as its heartbeat; 1–600, default 10.
 *   errorDelay=S      Seconds a terminal waits before retrying a request
 *                     that failed, uploads included (`ErrorDelay`); 1–3600,
 *                     default 30.
 *   realtime=1        Terminals upload each punch as it happens
 *                     (`Realtime`). Boolean, default 1.
 *   transInterval=M   Minutes between a terminal's checks for records not
 *                     yet uploaded (`TransInterval`); 0 turns them off;
 *                     0–1440, default 1.
 *   timeZone=N        `TimeZone` sent in the handshake: hours east of UTC,
 *                     or minutes for zones off the hour (330 for UTC+5:30),
 *                     as the PUSH manuals define it; −720–840, default not
 *                     sent, which leaves each terminal's own setting.
 *                     Terminals set their clock from the HTTP Date header
 *                     (PUSH V2.0.1), so set this where the terminals' own
 *                     zone setting cannot be trusted.
 *   maxBody=BYTES     Largest accepted request body; larger ones get 413.
 *                     1024–67108864, default 4194304 (4 MiB): a terminal
 *                     catching up after an outage sends its backlog in one
 *                     upload, and refusing it would make it resend forever.
 *   requestTimeout=MS How long a request may take to arrive in full before
 *                     it is dropped (408); 1000–600000, default 30000.
 *   commandTimeout=MS How long a queued command waits for its result before
 *                     its promise rejects; 1000–86400000, default 300000.
 *                     Counts from queueing, so it covers a terminal that
 *                     is offline.
 */
export interface ZkPushOptions {
  host: string;
  port: number;
  serials: readonly string[];
  delaySeconds: number;
  errorDelaySeconds: number;
  realtime: boolean;
  transIntervalMinutes: number;
  timeZone: number | undefined;
  maxBodyBytes: number;
  requestTimeoutMs: number;
  commandTimeoutMs: number;
}

export const ZK_PUSH_DEFAULTS = Object.freeze({
  delaySeconds: 10,
  errorDelaySeconds: 30,
  realtime: true,
  transIntervalMinutes: 1,
  maxBodyBytes: 4 * 1024 * 1024,
  requestTimeoutMs: 30_000,
  commandTimeoutMs: 300_000,
});

export const COMMAND_TIMEOUT_RANGE: IntegerRange = { min: 1_000, max: 86_400_000 };

const OPTION_NAMES = ['serials', 'delay', 'errorDelay', 'realtime', 'transInterval', 'timeZone', 'maxBody', 'requestTimeout', 'commandTimeout'] as const;
const SERIAL = /^[A-Za-z0-9._-]{1,64}$/;
const TIME_ZONE = /^-?\d{1,3}$/;
const TIME_ZONE_RANGE = { min: -720, max: 840 };

/** Reads `http://host:port?serials=…`; throws TransportUrlError naming what is wrong. */
export function parseZkPushUrl(text: string): ZkPushOptions {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TransportUrlError(`not a push receiver URL: ${JSON.stringify(text)} (expected e.g. http://0.0.0.0:8081?serials=ABC123)`);
  }
  if (url.protocol !== 'http:') throw new TransportUrlError(`${text}: terminals push over plain http://; got ${url.protocol}`);
  if (url.pathname !== '/' || url.username || url.password || url.hash) {
    throw new TransportUrlError(`${text}: give only host, port and options; terminals always use the /iclock/ paths`);
  }
  const options = Object.fromEntries(url.searchParams.entries());
  rejectUnknownOptions(options, OPTION_NAMES);
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    // WHATWG URL drops the scheme's default port, so an empty port is 80.
    port: url.port === '' ? 80 : Number(url.port),
    serials: parseSerials(options.serials, text),
    delaySeconds: integerOption(options, 'delay', { min: 1, max: 600 }, ZK_PUSH_DEFAULTS.delaySeconds),
    errorDelaySeconds: integerOption(options, 'errorDelay', { min: 1, max: 3_600 }, ZK_PUSH_DEFAULTS.errorDelaySeconds),
    realtime: booleanOption(options, 'realtime', ZK_PUSH_DEFAULTS.realtime),
    transIntervalMinutes: integerOption(options, 'transInterval', { min: 0, max: 1_440 }, ZK_PUSH_DEFAULTS.transIntervalMinutes),
    timeZone: parseTimeZone(options.timeZone),
    maxBodyBytes: integerOption(options, 'maxBody', { min: 1_024, max: 64 * 1024 * 1024 }, ZK_PUSH_DEFAULTS.maxBodyBytes),
    requestTimeoutMs: integerOption(options, 'requestTimeout', { min: 1_000, max: 600_000 }, ZK_PUSH_DEFAULTS.requestTimeoutMs),
    commandTimeoutMs: integerOption(options, 'commandTimeout', COMMAND_TIMEOUT_RANGE, ZK_PUSH_DEFAULTS.commandTimeoutMs),
  };
}

function parseSerials(list: string | undefined, url: string): string[] {
  const serials = [...new Set((list ?? '').split(',').map((serial) => serial.trim()).filter((serial) => serial !== ''))];
  if (serials.length === 0) throw new TransportUrlError(`${url}: option serials is required: the serial numbers of the terminals allowed to push, comma-separated`);
  const bad = serials.find((serial) => !SERIAL.test(serial));
  if (bad !== undefined) throw new TransportUrlError(`option serials: ${JSON.stringify(bad)} is not a serial number (1–64 letters, digits, ".", "_" or "-")`);
  return serials;
}

// integerOption reads unsigned numbers only, and west-of-UTC zones are negative.
function parseTimeZone(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!TIME_ZONE.test(text) || value < TIME_ZONE_RANGE.min || value > TIME_ZONE_RANGE.max) {
    throw new TransportUrlError(`option timeZone=${JSON.stringify(text)}: expected an integer from ${TIME_ZONE_RANGE.min} to ${TIME_ZONE_RANGE.max} (hours, or minutes for zones off the hour)`);
  }
  return value;
}
