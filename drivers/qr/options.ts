import { linkOptionNames } from '../core/linkFactory.js';
import { TransportUrlError, type TransportUrl } from '../core/transportUrl.js';
import { booleanOption, integerOption, rejectUnknownOptions } from '../core/urlOptions.js';
import { DEFAULT_MAX_LINE_BYTES, MAX_LINE_BYTES_LIMIT } from './codec.js';

/**
 * Options of the QR line driver, given as URL query options, e.g.
 * `serial:///dev/ttyACM0?ack=1&aim=1&baud=115200`:
 *
 *   ack=1        ACK/NAK handshake: the driver answers each scan with ACK
 *                (0x06) once the sink has stored it, or NAK (0x15) when the
 *                sink refused it, and the reader resends what was not
 *                acknowledged. Only for readers configured for it
 *                (Honeywell, Datalogic "ACK/NAK" RS-232 option). Boolean,
 *                default 0.
 *   prefix=TEXT  Text the reader sends before each scan; removed when
 *                present. 1–32 characters, percent-encoded; default none.
 *   aim=1        The reader sends an AIM symbology identifier (`]Q1`) before
 *                each scan; it is removed. Boolean, default 0.
 *   maxLine=N    Longest accepted line, in bytes without the terminator;
 *                longer lines are discarded. 1–65536, default 4096.
 *   baud=N       serial:// only: bits per second, 50–4000000, default 9600.
 *                Read by drivers/core/linkFactory.ts; USB CDC-ACM readers
 *                ignore it.
 *
 * There is deliberately no debounce option: the agent debounces repeated
 * scans durably, across its own restarts, so the driver reports every scan.
 */
export interface QrLineOptions {
  ackMode: boolean;
  prefix: string | undefined;
  aim: boolean;
  maxLineBytes: number;
}

const QR_OPTION_NAMES = ['ack', 'prefix', 'aim', 'maxLine'] as const;
const MAX_PREFIX_LENGTH = 32;

export function parseQrLineOptions(url: TransportUrl): QrLineOptions {
  const { options } = url;
  rejectUnknownOptions(options, [...QR_OPTION_NAMES, ...linkOptionNames(url)]);
  const prefix = options.prefix;
  if (prefix !== undefined && (prefix.length < 1 || prefix.length > MAX_PREFIX_LENGTH)) {
    throw new TransportUrlError(`option prefix=${JSON.stringify(prefix)}: expected 1 to ${MAX_PREFIX_LENGTH} characters`);
  }
  return {
    ackMode: booleanOption(options, 'ack', false),
    prefix,
    aim: booleanOption(options, 'aim', false),
    maxLineBytes: integerOption(options, 'maxLine', { min: 1, max: MAX_LINE_BYTES_LIMIT }, DEFAULT_MAX_LINE_BYTES),
  };
}
