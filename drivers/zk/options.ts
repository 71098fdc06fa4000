import { TransportUrlError, type TransportUrl } from '../core/transportUrl.js';
import { booleanOption, integerOption, type IntegerRange } from '../core/urlOptions.js';
import { MAX_CHUNK } from './frames/buffered.js';

/**
 * Options of the ZK driver, given as URL query options, e.g.
 * `tcp://10.0.0.5:4370?commKey=45&timeoutMs=5000`. Every option is optional.
 *
 *   commKey=N           Comm key (device password) for CMD_AUTH; 0 means none.
 *                       0–999999, default 0. The ZK menus take up to six digits.
 *   timeoutMs=N         How long to wait for each reply packet, ms. Slow
 *                       commands get a multiple of it (frames/requests.ts).
 *                       50–60000, default 3000.
 *   attempts=N          Sends of one request before giving up, the first
 *                       included; retries follow a timeout or a broken
 *                       transfer, never a refusal. 1–10, default 3.
 *   connectTimeoutMs=N  TCP connect, ms. 100–60000, default 5000. Unused over
 *                       UDP, which has no connection to wait for.
 *   chunkSize=N         READ_BUFFER chunk of a bulk read, bytes. 1024–65472;
 *                       default 65472 over TCP, 16384 over UDP (pyzk, §2.8).
 *   uploadChunkSize=N   DATA packet of an upload, bytes. 256–65472, default
 *                       1024 as pyzk sends (§2.10).
 *   realtime=1          Register for realtime attendance events on open.
 *                       Boolean, default 1.
 *   probeMs=N           Liveness probe (CMD_GET_TIME) when idle this long, ms;
 *                       a probe that fails every attempt reopens the link.
 *                       0 (off) or 1000–3600000, default 30000.
 *   reconnectMinMs=N    Ceiling of the first reconnect delay, ms; doubles per
 *                       failure, with full jitter. 10–60000, default 500.
 *                       The shared LinkSupervisor's baseMs (core/reconnect.ts).
 *   reconnectMaxMs=N    Ceiling of every reconnect delay, ms. 100–600000, at
 *                       least reconnectMinMs, default 30000. The supervisor's capMs.
 *   readyWaitMs=N       How long a command waits for a reopening link, ms.
 *                       0–600000, default 15000.
 */
export interface ZkOptions {
  commKey: number;
  timeoutMs: number;
  attempts: number;
  connectTimeoutMs: number;
  chunkSize: number;
  uploadChunkSize: number;
  realtime: boolean;
  probeMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  readyWaitMs: number;
}

/** Where a ZK terminal is reached. */
export interface ZkTarget {
  transport: 'tcp' | 'udp';
  host: string;
  port: number;
}

type IntegerOption = Exclude<keyof ZkOptions, 'realtime' | 'chunkSize'>;

const INTEGER_RANGES: Record<IntegerOption, IntegerRange & { fallback: number }> = {
  commKey: { min: 0, max: 999_999, fallback: 0 },
  timeoutMs: { min: 50, max: 60_000, fallback: 3000 },
  attempts: { min: 1, max: 10, fallback: 3 },
  connectTimeoutMs: { min: 100, max: 60_000, fallback: 5000 },
  uploadChunkSize: { min: 256, max: MAX_CHUNK.tcp, fallback: 1024 },
  probeMs: { min: 0, max: 3_600_000, fallback: 30_000 },
  reconnectMinMs: { min: 10, max: 60_000, fallback: 500 },
  reconnectMaxMs: { min: 100, max: 600_000, fallback: 30_000 },
  readyWaitMs: { min: 0, max: 600_000, fallback: 15_000 },
};
const CHUNK_RANGE = { min: 1024, max: MAX_CHUNK.tcp };
const MIN_PROBE_MS = 1000;
const OPTION_NAMES = [...Object.keys(INTEGER_RANGES), 'chunkSize', 'realtime'];

/** Reads where a tcp:// or udp:// ZK URL points and its options; throws TransportUrlError naming what is wrong. */
export function parseZkUrl(url: TransportUrl): { target: ZkTarget; options: ZkOptions } {
  if (url.scheme !== 'tcp' && url.scheme !== 'udp') {
    throw new TransportUrlError(`a ZK terminal is reached over tcp:// or udp://, not ${url.scheme}://`);
  }
  const query = url.options;
  const unknown = Object.keys(query).filter((name) => !OPTION_NAMES.includes(name));
  if (unknown.length > 0) throw new TransportUrlError(`unknown ZK option ${unknown.join(', ')}; known: ${OPTION_NAMES.join(', ')}`);
  const integers = Object.fromEntries(
    Object.entries(INTEGER_RANGES).map(([name, range]) => [name, integerOption(query, name, range, range.fallback)]),
  ) as Record<IntegerOption, number>;
  if (integers.probeMs > 0 && integers.probeMs < MIN_PROBE_MS) {
    throw new TransportUrlError(`option probeMs=${integers.probeMs}: expected 0 (off) or ${MIN_PROBE_MS} to ${INTEGER_RANGES.probeMs.max}`);
  }
  if (integers.reconnectMaxMs < integers.reconnectMinMs) {
    throw new TransportUrlError(`option reconnectMaxMs=${integers.reconnectMaxMs} is below reconnectMinMs=${integers.reconnectMinMs}`);
  }
  return {
    target: { transport: url.scheme, host: url.host, port: url.port },
    options: {
      ...integers,
      chunkSize: integerOption(query, 'chunkSize', CHUNK_RANGE, url.scheme === 'udp' ? MAX_CHUNK.udp : MAX_CHUNK.tcp),
      realtime: booleanOption(query, 'realtime', true),
    },
  };
}
