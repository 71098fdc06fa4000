/**
 * Text formats of the ZKTeco ADMS / iclock push protocol (device-protocols.md
 * §3): the query strings terminals send, the bodies they upload, and the
 * plain-text answers the server gives.
 *
 * Pure functions only: no I/O, no timers, no logging. Parsers never throw;
 * what they cannot read comes back as a bad line with its 1-based line
 * number, so one torn record does not cost the rest of an upload.
 */

import type { WallClock } from '../core/wallClock.js';

export type { WallClock };

export interface PushQuery {
  /** `SN`: the terminal's serial number; undefined when absent or empty. */
  serial: string | undefined;
  /** `table` of an upload, upper-cased (`ATTLOG`, `OPERLOG`, …). */
  table: string | undefined;
  /** `options=all`: the terminal asks for its settings (the handshake, §3.1). */
  optionsRequested: boolean;
  /** The upload's stamp: `Stamp`, or the table's own name for it (`ATTLOGStamp`, `OpStamp`). */
  stamp: string | undefined;
  /** `pushver`; firmware that predates it sends none. */
  pushVersion: string | undefined;
  /** `INFO` of a command poll: comma-separated device statistics (§3.3, uncertain). */
  info: string[] | undefined;
}

export interface AttlogRecord {
  /** 1-based line number within the upload. */
  line: number;
  /** The user id (PIN) the terminal knows the person by. */
  pin: string;
  time: WallClock;
  /** Punch state: 0 check-in, 1 check-out, 2 break-out, 3 break-in, 4 overtime-in, 5 overtime-out. */
  status: number;
  /** Verify mode code; see events.ts for what the codes mean. */
  verify: number;
  /** Empty when the terminal sent none. */
  workcode: string;
  /** Columns after the work code as sent: Reserved1, Reserved2 and what newer firmware adds (mask, temperature, …). */
  extra: string[];
}

export interface OperlogEntry {
  line: number;
  /** The word before the first space: `OPLOG`, `USER`, `FP`, `FACE`, … */
  kind: string;
  /** `Key=Value` columns, such as those of `USER PIN=1\tName=…`. */
  fields: Record<string, string>;
  /** Positional columns, such as those of `OPLOG 4\t0\t2024-01-02 09:00:00…`. */
  values: string[];
}

export interface CommandResult {
  /** The id the server gave the command in `C:<id>:…`. */
  id: string;
  /** `Return`: 0 on success, otherwise the terminal's error code (negative in the PUSH manuals). */
  returnCode: number;
  /** `CMD`: the command's family as the terminal names it (`DATA`, `INFO`, `CLEAR_LOG`, …); empty when absent. */
  command: string;
  /** `Key=Value` lines that follow the result line, as an INFO result carries them. */
  details: Record<string, string>;
}

export interface BadLine {
  line: number;
  reason: string;
  /** Bytes of the line as received, in UTF-8. */
  bytes: number;
  /** The start of the line, for logs. */
  sample: string;
}

export interface ParsedBody<T> {
  items: T[];
  badLines: BadLine[];
}

/** What a handshake answer tells the terminal (§3.1). */
export interface HandshakeSettings {
  /** The last attendance stamp the server holds; undefined answers `None`, so the terminal sends what it has. */
  attlogStamp: string | undefined;
  operlogStamp: string | undefined;
  /** Seconds the terminal waits before retrying after a failed request. */
  errorDelaySeconds: number;
  /** Seconds between command polls, which are also the terminal's heartbeat. */
  delaySeconds: number;
  /** Minutes between the terminal's checks for new records; 0 turns them off. */
  transIntervalMinutes: number;
  /** Upload each punch as it happens. */
  realtime: boolean;
  /** `TimeZone` as the PUSH manuals give it: hours, or minutes for zones off the hour; undefined leaves the terminal's own. */
  timeZone: number | undefined;
  /** Name the options as firmware without `pushver` reads them (quirks.ts). */
  legacyNames: boolean;
}

export interface QueuedCommand {
  id: string;
  command: string;
}

const SAMPLE_CHARACTERS = 60;
const LINE_BREAK = /\r\n|\n|\r/;
const DEVICE_TIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})$/;
const CODE = /^\d{1,9}$/;
const RETURN_CODE = /^-?\d{1,9}$/;
const OPERLOG_KIND = /^[A-Za-z][A-Za-z0-9_]*$/;

/** Reads the query string of any iclock request, with or without its `?`. Parameter names match in any case. */
export function parsePushQuery(query: string): PushQuery {
  const parameters = new Map<string, string>();
  for (const [name, value] of new URLSearchParams(query.startsWith('?') ? query.slice(1) : query)) {
    const key = name.toLowerCase();
    if (!parameters.has(key)) parameters.set(key, value);
  }
  const text = (name: string) => {
    const value = parameters.get(name.toLowerCase())?.trim();
    return value === '' ? undefined : value;
  };
  const table = text('table')?.toUpperCase();
  const info = text('INFO');
  return {
    serial: text('SN'),
    table,
    optionsRequested: text('options')?.toLowerCase() === 'all',
    stamp: text('Stamp') ?? (table ? text(`${table}Stamp`) : undefined) ?? (table === 'OPERLOG' ? text('OpStamp') : undefined),
    pushVersion: text('pushver'),
    info: info === undefined ? undefined : info.split(','),
  };
}

/**
 * Reads an ATTLOG upload: one record per line,
 * `PIN \t YYYY-MM-DD HH:MM:SS \t Status \t Verify [\t Workcode \t …]`.
 * Takes CR LF, LF or CR line ends and skips blank lines; columns past the
 * fourth are optional and kept as sent.
 */
export function parseAttlogBody(body: string): ParsedBody<AttlogRecord> {
  const result: ParsedBody<AttlogRecord> = { items: [], badLines: [] };
  forEachLine(body, (text, line) => {
    const record = readAttlogLine(text, line);
    if (typeof record === 'string') result.badLines.push(badLine(text, line, record));
    else result.items.push(record);
  });
  return result;
}

/** The record on one line, or why there is none. */
function readAttlogLine(text: string, line: number): AttlogRecord | string {
  const [pin = '', time = '', status = '', verify = '', workcode = '', ...extra] = text.split('\t').map((column) => column.trim());
  if (pin === '') return 'empty PIN';
  if (status === '' || verify === '') return 'expected at least four tab-separated columns';
  const wallClock = parseDeviceTime(time);
  if (!wallClock) return `time ${JSON.stringify(time.slice(0, 24))} is not YYYY-MM-DD HH:MM:SS`;
  if (!CODE.test(status) || !CODE.test(verify)) return 'status and verify must be unsigned integers';
  return { line, pin, time: wallClock, status: Number(status), verify: Number(verify), workcode, extra };
}

/** Reads an OPERLOG upload far enough to count and name its entries; nothing in it becomes an event. */
export function parseOperlogBody(body: string): ParsedBody<OperlogEntry> {
  const result: ParsedBody<OperlogEntry> = { items: [], badLines: [] };
  forEachLine(body, (text, line) => {
    const space = text.indexOf(' ');
    const kind = space < 0 ? text : text.slice(0, space);
    if (space < 0 || !OPERLOG_KIND.test(kind)) {
      result.badLines.push(badLine(text, line, 'expected a word such as OPLOG or USER, a space, then columns'));
      return;
    }
    const fields: Record<string, string> = {};
    const values: string[] = [];
    for (const column of text.slice(space + 1).split('\t')) {
      const equals = column.indexOf('=');
      if (equals > 0) fields[column.slice(0, equals)] = column.slice(equals + 1);
      else values.push(column);
    }
    result.items.push({ line, kind, fields, values });
  });
  return result;
}

/**
 * Reads a /iclock/devicecmd body: one `ID=…&Return=…&CMD=…` line per
 * executed command, each optionally followed by `Key=Value` detail lines.
 */
export function parseCommandResults(body: string): ParsedBody<CommandResult> {
  const result: ParsedBody<CommandResult> = { items: [], badLines: [] };
  forEachLine(body, (text, line) => {
    const pairs = new Map<string, string>();
    for (const part of text.split('&')) {
      const equals = part.indexOf('=');
      if (equals > 0 && !pairs.has(part.slice(0, equals))) pairs.set(part.slice(0, equals), part.slice(equals + 1));
    }
    const id = pairs.get('ID');
    if (id === undefined) {
      const previous = result.items.at(-1);
      const equals = text.indexOf('=');
      if (previous && equals > 0) previous.details[text.slice(0, equals)] = text.slice(equals + 1);
      else result.badLines.push(badLine(text, line, previous ? 'expected Key=Value after a result' : 'expected ID=…&Return=…&CMD=…'));
      return;
    }
    const returnCode = pairs.get('Return');
    if (id === '' || returnCode === undefined || !RETURN_CODE.test(returnCode)) {
      result.badLines.push(badLine(text, line, 'a result needs an ID and an integer Return'));
      return;
    }
    result.items.push({ id, returnCode: Number(returnCode), command: pairs.get('CMD') ?? '', details: {} });
  });
  return result;
}

/**
 * The answer to `GET /iclock/cdata?SN=…&options=all` (§3.1). `TransFlag`
 * asks for attendance and the operation log only: user and template
 * uploads would carry biometric data this server does not keep.
 */
export function formatHandshake(serial: string, settings: HandshakeSettings): string {
  const stamp = (value: string | undefined) => value ?? 'None';
  const lines = [
    `GET OPTION FROM: ${serial}`,
    settings.legacyNames ? `Stamp=${stamp(settings.attlogStamp)}` : `ATTLOGStamp=${stamp(settings.attlogStamp)}`,
    settings.legacyNames ? `OpStamp=${stamp(settings.operlogStamp)}` : `OPERLOGStamp=${stamp(settings.operlogStamp)}`,
    `ErrorDelay=${settings.errorDelaySeconds}`,
    `Delay=${settings.delaySeconds}`,
    // Scheduled uploads only back up Realtime and TransInterval; these are the times of the reference's example.
    'TransTimes=00:00;14:05',
    `TransInterval=${settings.transIntervalMinutes}`,
    // The bitmask's first two places are AttLog and OpLog.
    settings.legacyNames ? 'TransFlag=1100000000' : 'TransFlag=TransData AttLog\tOpLog',
    ...(settings.timeZone === undefined ? [] : [`TimeZone=${settings.timeZone}`]),
    `Realtime=${settings.realtime ? 1 : 0}`,
    'Encrypt=None',
  ];
  return lines.join('\n');
}

/** The answer to an upload whose `count` lines have all been dealt with (§3.2). */
export function formatUploadAccepted(count: number): string {
  return `OK: ${count}`;
}

/** Command text that fits on one `C:<id>:<command>` line. */
export function isCommandText(command: string): boolean {
  return command.trim() !== '' && !/[\r\n]/.test(command);
}

/** The answer to a command poll (§3.3): `OK` when there is nothing to do. */
export function formatCommandPoll(commands: readonly QueuedCommand[]): string {
  return commands.length === 0 ? 'OK' : commands.map(({ id, command }) => `C:${id}:${command}`).join('\n');
}

function parseDeviceTime(text: string): WallClock | undefined {
  const match = DEVICE_TIME.exec(text);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 59) return undefined;
  return { year, month, day, hour, minute, second };
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function forEachLine(body: string, visit: (text: string, line: number) => void): void {
  body.split(LINE_BREAK).forEach((text, index) => {
    if (text.trim() !== '') visit(text, index + 1);
  });
}

function badLine(text: string, line: number, reason: string): BadLine {
  return { line, reason, bytes: Buffer.byteLength(text, 'utf8'), sample: text.slice(0, SAMPLE_CHARACTERS) };
}
