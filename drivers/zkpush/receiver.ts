import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { EventSink } from '../core/driver.js';
import { LinkStatsRecorder, type LinkStats } from '../core/linkStats.js';
import type { Timers } from '../core/reconnect.js';
import {
  formatCommandPoll,
  formatHandshake,
  formatUploadAccepted,
  isCommandText,
  parseAttlogBody,
  parseCommandResults,
  parseOperlogBody,
  parsePushQuery,
  type AttlogRecord,
  type BadLine,
  type CommandResult,
  type PushQuery,
} from './codec.js';
import { CommandQueue, ZkPushCommandCancelledError } from './commands.js';
import { identifiedEvent } from './events.js';
import type { ZkPushOptions } from './options.js';
import { readsLegacyOptionNames } from './quirks.js';

export class ZkPushUnknownTerminalError extends Error {
  override readonly name = 'ZkPushUnknownTerminalError';
}

/** A terminal that is not on the allow-list but keeps knocking. */
export interface UnknownTerminal {
  serial: string;
  remoteAddress: string;
  requests: number;
  firstSeenAt: Date;
  lastSeenAt: Date;
}

export interface ZkPushReceiverDependencies {
  sink: EventSink;
  log: Logger;
  /** The clock of command timeouts; tests pass a manual one. */
  timers?: Timers;
  /** Wall-clock time, for lastSeenAt and the first command id. */
  now?: () => Date;
}

interface Answer {
  status: number;
  body: string;
  /** Close the connection after answering, for requests whose body was left unread. */
  close?: boolean;
}

type Endpoint = 'cdata' | 'getrequest' | 'devicecmd' | 'ping';

const ENDPOINT = /^\/iclock\/(cdata|getrequest|devicecmd|ping)\/?$/i;
const METHODS: Readonly<Record<Endpoint, readonly string[]>> = {
  cdata: ['GET', 'POST'],
  getrequest: ['GET'],
  devicecmd: ['POST'],
  ping: ['GET'],
};
const OK: Answer = { status: 200, body: 'OK' };
/**
 * Neither device-protocols.md nor the PUSH manuals say how to refuse a
 * terminal. Anything but 200 "OK…" is a failure to the terminal, which then
 * keeps its records and retries after ErrorDelay, so nothing is lost while
 * an operator adds the serial.
 */
const REFUSED: Answer = { status: 403, body: 'FAIL: unknown terminal' };
/** Keys of stored records each terminal's state remembers, to spot uploads sent again after a lost answer. */
const ACKNOWLEDGED_KEYS_KEPT = 10_000;
const UNKNOWN_TERMINALS_KEPT = 100;
const systemTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout | undefined),
  now: () => performance.now(),
};

/** The state the receiver keeps for one allowed terminal. */
class Terminal {
  readonly stats: LinkStatsRecorder;
  readonly commands: CommandQueue;
  /** Device keys of records the sink has stored, oldest first. */
  readonly acknowledged = new Set<string>();
  attlogStamp: string | undefined;
  operlogStamp: string | undefined;
  handshakes = 0;
  /** Uploads reach the sink one after another, in the order they arrived. */
  delivery: Promise<void> = Promise.resolve();

  constructor(
    readonly serial: string,
    timers: Timers,
    now: () => Date,
  ) {
    this.stats = new LinkStatsRecorder(now);
    this.commands = new CommandQueue(serial, timers, () => this.stats.add('timeouts'));
  }

  remember(deviceKey: string): void {
    this.acknowledged.add(deviceKey);
    if (this.acknowledged.size > ACKNOWLEDGED_KEYS_KEPT) this.acknowledged.delete(this.acknowledged.values().next().value!);
  }
}

/**
 * The HTTP server terminals push to (device-protocols.md §3): handshake,
 * attendance uploads, command polls and command results, for the terminals
 * on the allow-list.
 *
 * An upload is answered `OK: n` only once the sink has resolved for every
 * record in it. When the sink rejects, the answer is 503: the terminal keeps
 * what was not OK'd and sends it again after ErrorDelay, and the records the
 * sink did store are then recognised by their device keys and not delivered
 * twice.
 */
export class ZkPushReceiver {
  private readonly server: Server;
  private readonly terminals = new Map<string, Terminal>();
  private readonly unknown = new Map<string, UnknownTerminal>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly timers: Timers;
  private readonly now: () => Date;
  private readonly log: Logger;
  private nextCommandId: number;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly options: ZkPushOptions,
    private readonly dependencies: ZkPushReceiverDependencies,
  ) {
    this.timers = dependencies.timers ?? systemTimers;
    this.now = dependencies.now ?? (() => new Date());
    this.log = dependencies.log;
    // Seeded from the clock, so a result that comes back after a restart cannot match a new command's id.
    this.nextCommandId = Math.floor(this.now().getTime() / 1000);
    for (const serial of options.serials) this.terminals.set(serial, new Terminal(serial, this.timers, this.now));
    this.server = createServer(
      {
        requestTimeout: options.requestTimeoutMs,
        headersTimeout: options.requestTimeoutMs,
        // Node checks the timeouts above only this often (default 30 s).
        connectionsCheckingInterval: Math.min(1_000, options.requestTimeoutMs),
      },
      (request, response) => this.track(this.handle(request, response)),
    );
  }

  async listen(): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return this.address()!;
  }

  /** Where the server listens; undefined before listen(). */
  address(): AddressInfo | undefined {
    const address = this.server.address();
    return address && typeof address === 'object' ? address : undefined;
  }

  /**
   * Queues `command` (e.g. `DATA UPDATE USERINFO PIN=7\tName=Asha`) for the
   * terminal's next poll and resolves with its result, whatever its return
   * code. Rejects with ZkPushCommandTimeoutError when no result comes within
   * `timeoutMs` (default: the commandTimeout option).
   */
  queueCommand(serial: string, command: string, timeoutMs = this.options.commandTimeoutMs): Promise<CommandResult> {
    const terminal = this.terminals.get(serial);
    if (!terminal) return Promise.reject(new ZkPushUnknownTerminalError(`${JSON.stringify(serial)} is not on the allow-list (${this.options.serials.join(', ')})`));
    if (!isCommandText(command)) return Promise.reject(new RangeError('a command is one non-empty line of text'));
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1) return Promise.reject(new RangeError(`timeoutMs must be a positive integer, got ${timeoutMs}`));
    if (this.closing) return Promise.reject(new ZkPushCommandCancelledError('the receiver is closed'));
    return terminal.commands.enqueue(String(this.nextCommandId++), command, timeoutMs);
  }

  /** The counters of one terminal: rxFrames counts uploads, txFrames commands sent; undefined for a serial not on the allow-list. */
  terminalStats(serial: string): LinkStats | undefined {
    return this.terminals.get(serial)?.stats.snapshot();
  }

  /** The counters of all terminals added up, with the latest lastSeenAt. */
  stats(): LinkStats {
    const all = [...this.terminals.values()].map((terminal) => terminal.stats.snapshot());
    const sum = (counter: Exclude<keyof LinkStats, 'lastSeenAt'>) => all.reduce((total, stats) => total + stats[counter], 0);
    const seen = all.flatMap((stats) => (stats.lastSeenAt ? [stats.lastSeenAt.getTime()] : []));
    return Object.freeze({
      txFrames: sum('txFrames'),
      rxFrames: sum('rxFrames'),
      txBytes: sum('txBytes'),
      rxBytes: sum('rxBytes'),
      discardedBytes: sum('discardedBytes'),
      checksumErrors: sum('checksumErrors'),
      timeouts: sum('timeouts'),
      retries: sum('retries'),
      reconnects: sum('reconnects'),
      lastSeenAt: seen.length > 0 ? new Date(Math.max(...seen)) : null,
    });
  }

  /** Terminals that were refused, most recent first. */
  unknownTerminals(): UnknownTerminal[] {
    return [...this.unknown.values()].reverse().map((terminal) => ({ ...terminal }));
  }

  /**
   * Stops accepting requests and delivering records; resolves once the
   * record in the sink, if any, has been answered for. Queued commands
   * reject with ZkPushCommandCancelledError.
   */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    for (const terminal of this.terminals.values()) terminal.commands.cancelAll('the receiver closed');
    const stopped = this.server.listening ? new Promise<void>((resolve) => this.server.close(() => resolve())) : Promise.resolve();
    await Promise.allSettled(this.inFlight);
    this.server.closeAllConnections();
    await stopped;
  }

  private track(work: Promise<void>): void {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    try {
      const answer = await this.route(request);
      if (!response.headersSent && !response.destroyed) send(response, answer);
    } catch (error) {
      this.log.debug({ err: messageOf(error), url: request.url }, 'request failed');
      if (!response.headersSent && !response.destroyed) send(response, { status: 400, body: 'FAIL: bad request', close: true });
    }
  }

  private async route(request: IncomingMessage): Promise<Answer> {
    const url = request.url ?? '';
    const queryStart = url.indexOf('?');
    const endpoint = ENDPOINT.exec(queryStart < 0 ? url : url.slice(0, queryStart))?.[1]?.toLowerCase() as Endpoint | undefined;
    if (!endpoint) return { status: 404, body: 'FAIL: not an iclock path', close: true };
    if (!METHODS[endpoint].includes(request.method ?? '')) return { status: 405, body: `FAIL: ${request.method} not allowed here`, close: true };
    const query = parsePushQuery(queryStart < 0 ? '' : url.slice(queryStart + 1));
    if (!query.serial) return { status: 400, body: 'FAIL: no SN', close: true };
    const terminal = this.terminals.get(query.serial);
    if (!terminal) {
      this.reportUnknown(query.serial, request.socket.remoteAddress ?? '');
      return { ...REFUSED, close: true };
    }
    let body = '';
    if (request.method === 'POST') {
      const bytes = await readBody(request, this.options.maxBodyBytes);
      if (bytes === undefined) {
        this.log.warn({ serial: terminal.serial, limit: this.options.maxBodyBytes }, 'request body over the maxBody limit refused');
        terminal.stats.received(0);
        return { status: 413, body: 'FAIL: body too large', close: true };
      }
      terminal.stats.received(bytes.length);
      body = new TextDecoder('utf-8').decode(bytes);
    } else {
      terminal.stats.received(0);
    }
    const answer = await this.answer(endpoint, request.method === 'POST', terminal, query, body);
    terminal.stats.add('txBytes', Buffer.byteLength(answer.body, 'utf8'));
    return answer;
  }

  private answer(endpoint: Endpoint, post: boolean, terminal: Terminal, query: PushQuery, body: string): Answer | Promise<Answer> {
    switch (endpoint) {
      case 'cdata':
        if (post) return this.upload(terminal, query, body);
        return query.optionsRequested || query.table === undefined ? this.handshake(terminal, query) : OK;
      case 'getrequest':
        return this.poll(terminal, query);
      case 'devicecmd':
        return this.commandResults(terminal, body);
      case 'ping':
        return OK;
    }
  }

  private handshake(terminal: Terminal, query: PushQuery): Answer {
    terminal.handshakes += 1;
    // A second handshake means the terminal restarted or lost the server.
    if (terminal.handshakes > 1) terminal.stats.add('reconnects');
    this.log.info({ serial: terminal.serial, pushVersion: query.pushVersion ?? null }, 'terminal handshake');
    const { errorDelaySeconds, delaySeconds, transIntervalMinutes, realtime, timeZone } = this.options;
    return {
      status: 200,
      body: formatHandshake(terminal.serial, {
        attlogStamp: terminal.attlogStamp,
        operlogStamp: terminal.operlogStamp,
        errorDelaySeconds,
        delaySeconds,
        transIntervalMinutes,
        realtime,
        timeZone,
        legacyNames: readsLegacyOptionNames(query.pushVersion),
      }),
    };
  }

  private async upload(terminal: Terminal, query: PushQuery, body: string): Promise<Answer> {
    terminal.stats.add('rxFrames');
    switch (query.table) {
      case 'ATTLOG':
        return this.attendance(terminal, query, body);
      case 'OPERLOG': {
        const { items, badLines } = parseOperlogBody(body);
        this.reportBadLines(terminal, 'OPERLOG', badLines);
        this.log.debug({ serial: terminal.serial, kinds: [...new Set(items.map((entry) => entry.kind))], count: items.length }, 'operation log');
        if (query.stamp !== undefined) terminal.operlogStamp = query.stamp;
        return { status: 200, body: formatUploadAccepted(items.length + badLines.length) };
      }
      default:
        // Photos and the like are not asked for (TransFlag); OK keeps the terminal from sending them again.
        this.log.debug({ serial: terminal.serial, table: query.table ?? null, length: body.length }, 'upload of a table this server does not read');
        return OK;
    }
  }

  private async attendance(terminal: Terminal, query: PushQuery, body: string): Promise<Answer> {
    const { items, badLines } = parseAttlogBody(body);
    // A bad line would be just as bad when sent again, so it counts as dealt with once reported.
    this.reportBadLines(terminal, 'ATTLOG', badLines);
    const delivered = terminal.delivery.then(() => this.deliver(terminal, items));
    terminal.delivery = delivered.catch(() => undefined);
    try {
      await delivered;
    } catch (error) {
      this.log.warn({ serial: terminal.serial, err: messageOf(error), records: items.length }, 'attendance not stored; the terminal will send it again');
      return { status: 503, body: 'FAIL: not stored, send again' };
    }
    if (query.stamp !== undefined) terminal.attlogStamp = query.stamp;
    return { status: 200, body: formatUploadAccepted(items.length + badLines.length) };
  }

  private async deliver(terminal: Terminal, records: readonly AttlogRecord[]): Promise<void> {
    for (const record of records) {
      const event = identifiedEvent(terminal.serial, record);
      const deviceKey = event.deviceKey!;
      if (terminal.acknowledged.has(deviceKey)) {
        // Sent again because our OK was lost (or came too late); the sink already has it.
        terminal.stats.add('retries');
        continue;
      }
      if (this.closing) throw new Error('the receiver is closing');
      await this.dependencies.sink(event);
      terminal.remember(deviceKey);
    }
  }

  private poll(terminal: Terminal, query: PushQuery): Answer {
    if (query.info) this.log.debug({ serial: terminal.serial, info: query.info }, 'terminal info');
    const commands = terminal.commands.takeUnsent();
    terminal.stats.add('txFrames', commands.length);
    if (commands.length > 0) this.log.debug({ serial: terminal.serial, ids: commands.map((command) => command.id) }, 'commands sent');
    return { status: 200, body: formatCommandPoll(commands) };
  }

  private commandResults(terminal: Terminal, body: string): Answer {
    const { items, badLines } = parseCommandResults(body);
    this.reportBadLines(terminal, 'devicecmd', badLines);
    for (const result of items) {
      if (!terminal.commands.settle(result)) this.log.info({ serial: terminal.serial, id: result.id, returnCode: result.returnCode }, 'result for a command nobody waits for');
    }
    return OK;
  }

  private reportBadLines(terminal: Terminal, what: 'ATTLOG' | 'OPERLOG' | 'devicecmd', badLines: readonly BadLine[]): void {
    for (const bad of badLines) {
      terminal.stats.add('discardedBytes', bad.bytes);
      // A torn OPERLOG line may be a piece of a base64 fingerprint template, and templates are never logged.
      const sample = what === 'OPERLOG' ? undefined : bad.sample;
      this.log.warn({ serial: terminal.serial, line: bad.line, reason: bad.reason, bytes: bad.bytes, sample }, `[DISCARDED] ${what} line`);
    }
  }

  private reportUnknown(serial: string, remoteAddress: string): void {
    const now = this.now();
    const known = this.unknown.get(serial);
    const terminal: UnknownTerminal = known
      ? { ...known, remoteAddress, requests: known.requests + 1, lastSeenAt: now }
      : { serial, remoteAddress, requests: 1, firstSeenAt: now, lastSeenAt: now };
    // Re-inserted so the map stays in order of last sighting and the oldest goes first.
    this.unknown.delete(serial);
    this.unknown.set(serial, terminal);
    if (this.unknown.size > UNKNOWN_TERMINALS_KEPT) this.unknown.delete(this.unknown.keys().next().value!);
    if (!known) this.log.warn({ serial, remoteAddress }, 'refused a terminal that is not on the allow-list (option serials)');
  }
}

/** The body, or undefined once it grows past `limit`; the rest is left unread and the connection is closed after the answer. */
function readBody(request: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  if (Number(request.headers['content-length'] ?? 0) > limit) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      request.off('data', onData);
      request.pause();
      resolve(undefined);
    };
    request.on('data', onData);
    request.once('end', () => resolve(Buffer.concat(chunks)));
    // After 'end' this settles nothing; before it, the terminal went away mid-body.
    request.once('close', () => reject(new Error('the request ended before its body was complete')));
  });
}

function send(response: ServerResponse, answer: Answer): void {
  response.writeHead(answer.status, {
    'Content-Type': 'text/plain',
    'Content-Length': Buffer.byteLength(answer.body, 'utf8'),
    ...(answer.close ? { Connection: 'close' } : {}),
  });
  response.end(answer.body);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
