/**
 * The terminal's side of the push protocol's text formats, written from
 * device-protocols.md §3 and the PUSH manuals, not from the driver's codec:
 * a simulator that shared the codec could not catch its bugs.
 */

/** One attendance record as the terminal's log holds it. */
export interface PunchRecord {
  /** Position in the terminal's log, from 1; uploads send the last one as their Stamp. */
  seq: number;
  userId: string;
  /** Verify mode code, e.g. 1 fingerprint, 4 card, 15 face (PUSH manual verify-mode table). */
  verify: number;
  /** Punch state, e.g. 0 check-in, 1 check-out. */
  status: number;
  /** Local wall-clock time of the punch, to the second. */
  time: Date;
  workcode: string;
}

export interface ServerCommand {
  id: string;
  command: string;
}

export interface CommandResultLine {
  id: string;
  returnCode: number;
  /** The command family as the terminal reports it: DATA, CLEAR_LOG, REBOOT, INFO, … */
  cmd: string;
  /** Key=Value lines after the result line, as INFO sends them. */
  details?: Record<string, string>;
}

/** `2025-01-06 09:00:05` in the terminal's (the host's) local time. */
export function deviceTime(time: Date): string {
  const two = (value: number) => String(value).padStart(2, '0');
  return `${time.getFullYear()}-${two(time.getMonth() + 1)}-${two(time.getDate())} ${two(time.getHours())}:${two(time.getMinutes())}:${two(time.getSeconds())}`;
}

/** PIN, time, status, verify, work code and the two reserved columns, tab-separated (§3.2). */
export function attlogLine(record: PunchRecord): string {
  return [record.userId, deviceTime(record.time), record.status, record.verify, record.workcode, '0', '0'].join('\t');
}

/** The `Key=Value` lines of a handshake answer, after its `GET OPTION FROM: <serial>` line; undefined when that line is missing. */
export function parseServerOptions(body: string, serialNumber: string): Record<string, string> | undefined {
  const [first = '', ...lines] = body.split(/\r?\n/);
  if (first.trim() !== `GET OPTION FROM: ${serialNumber}`) return undefined;
  const options: Record<string, string> = {};
  for (const line of lines) {
    const equals = line.indexOf('=');
    if (equals > 0) options[line.slice(0, equals).trim()] = line.slice(equals + 1).trim();
  }
  return options;
}

/** The `C:<id>:<command>` lines of a command poll's answer; `OK` holds none. */
export function parseServerCommands(body: string): ServerCommand[] {
  return body.split(/\r?\n/).flatMap((line) => {
    const match = /^C:([^:]+):(.+)$/.exec(line);
    return match ? [{ id: match[1]!, command: match[2]! }] : [];
  });
}

export function commandResultLines(result: CommandResultLine): string[] {
  return [`ID=${result.id}&Return=${result.returnCode}&CMD=${result.cmd}`, ...Object.entries(result.details ?? {}).map(([key, value]) => `${key}=${value}`)];
}

/** Firmware takes any 200 answer that starts with OK (`OK`, `OK:3`, `OK: 3`) as acceptance of the whole upload. */
export function acceptsUpload(status: number, body: string): boolean {
  return status === 200 && body.trimStart().startsWith('OK');
}

/** `PIN=7\tName=Asha` → { PIN: '7', Name: 'Asha' } */
export function tabFields(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const column of text.split('\t')) {
    const equals = column.indexOf('=');
    if (equals > 0) fields[column.slice(0, equals)] = column.slice(equals + 1);
  }
  return fields;
}
