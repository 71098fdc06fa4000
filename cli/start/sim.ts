import { readFileSync } from 'node:fs';
import { demoStudentCodes } from '../../fixtures/students.js';
import { startQrScannerSimulator } from '../../simulators/qr/scanner.js';
import { MockR30xModule } from '../../simulators/r30x/module.js';
import { MockZkTerminal } from '../../simulators/zk/terminal.js';
import { MockPushTerminal } from '../../simulators/zkpush/terminal.js';
import { SIMULATOR_KINDS } from '../commands/sim.js';
import type { ParsedArgs } from '../commands/command.js';
import { UsageError, integerArg, portArg, requiredArg, stringArg, untilSignal } from './args.js';

type SimulatorKind = (typeof SIMULATOR_KINDS)[number];

interface RunningSimulator {
  /** Where it listens (for zk-push: where it pushes), for the ready line. */
  where: Record<string, unknown>;
  stop(): Promise<void>;
}

interface TerminalUser {
  userId: string;
  name: string;
}

const DEFAULT_PORTS = { qr: 7001, zk: 4370, r30x: 7002 } as const;
const DEFAULT_PUSH_SERIAL = 'CH360PUSH0001';
const DEFAULT_PUSH_INTERVAL_MS = 5_000;
const DEFAULT_ENROLLED = 5;
const DEMO_USERS = 5;
/** A ZK terminal keeps user ids and names in 24-byte fields (72-byte user records). */
const ZK_TEXT_BYTES = 24;
const MAX_INTERVAL_MS = 3_600_000;

const STARTERS: Record<SimulatorKind, (args: ParsedArgs) => Promise<RunningSimulator>> = {
  qr: startQrReader,
  zk: startZkTerminal,
  'zk-push': startPushTerminal,
  r30x: startR30xModule,
};

export async function runSimulator(args: ParsedArgs): Promise<number> {
  const kind = SIMULATOR_KINDS.find((known) => known === args.positionals[0]);
  if (!kind) throw new UsageError(`unknown simulator ${JSON.stringify(args.positionals[0] ?? '')}; choose one of ${SIMULATOR_KINDS.join(', ')}`);
  const simulator = await STARTERS[kind](args);
  console.log(JSON.stringify({ ready: 'sim', kind, ...simulator.where }));
  await untilSignal();
  await simulator.stop();
  return 0;
}

async function startQrReader(args: ParsedArgs): Promise<RunningSimulator> {
  const serialPath = stringArg(args, 'serial');
  const codesFile = stringArg(args, 'codes');
  const codes = codesFile ? readCodes(codesFile) : demoStudentCodes();
  const intervalMs = integerArg(args, 'interval-ms', 1, MAX_INTERVAL_MS);
  const count = countArg(args);
  const host = hostArg(args);
  const scanner = await startQrScannerSimulator({
    ...(serialPath ? { serialPath } : { listen: { host, port: listenPortArg(args, DEFAULT_PORTS.qr) } }),
    ackMode: args.values.ack === true,
  });
  const stopScanning = scanner.autoScan({ codes, intervalMs, ...(count !== undefined ? { count } : {}) });
  return {
    where: serialPath ? { serial: serialPath } : { host, port: scanner.address().port },
    async stop() {
      stopScanning();
      await scanner.stop();
    },
  };
}

async function startZkTerminal(args: ParsedArgs): Promise<RunningSimulator> {
  const users = usersArg(args);
  const punchIntervalMs = intervalArg(args, 'punch-interval-ms');
  const count = countArg(args);
  const host = hostArg(args);
  const terminal = await MockZkTerminal.start({ host, port: listenPortArg(args, DEFAULT_PORTS.zk), serialNumber: stringArg(args, 'serial') });
  for (const user of users) terminal.addUser(user);
  const stopPunching =
    punchIntervalMs === undefined
      ? () => {}
      : repeat(punchIntervalMs, count, (index) => {
          const { userId } = users[index % users.length]!;
          try {
            terminal.punch(userId);
          } catch (error) {
            // A client may have disabled the terminal (CMD_DISABLEDEVICE) while it works on it; punching resumes once it is enabled.
            warn(`zk: no punch by ${userId}: ${messageOf(error)}`);
          }
        });
  return {
    where: { host, port: terminal.port, serialNumber: terminal.serialNumber, users: users.length },
    async stop() {
      stopPunching();
      await terminal.close();
    },
  };
}

async function startPushTerminal(args: ParsedArgs): Promise<RunningSimulator> {
  const hubUrl = hubUrlArg(args);
  const users = usersArg(args);
  const punchIntervalMs = intervalArg(args, 'punch-interval-ms') ?? DEFAULT_PUSH_INTERVAL_MS;
  const count = countArg(args);
  const terminal = new MockPushTerminal({ server: hubUrl, serialNumber: stringArg(args, 'serial') ?? DEFAULT_PUSH_SERIAL });
  // The terminal retries on its own; these say why nothing arrives, e.g. a receiver that is down or lacks this serial.
  terminal.on('requestFailed', (path, reason) => warn(`zk-push: ${path} failed (${reason}); trying again later`));
  terminal.on('uploadFailed', (records, reason) => warn(`zk-push: upload of ${records.length} punch${records.length === 1 ? '' : 'es'} failed (${reason}); sending again later`));
  const handshake = await terminal.start();
  const stopPunching = repeat(punchIntervalMs, count, (index) => terminal.punch(users[index % users.length]!.userId));
  return {
    where: { hubUrl, serialNumber: terminal.serialNumber, users: users.length, handshake },
    async stop() {
      stopPunching();
      terminal.stop();
    },
  };
}

async function startR30xModule(args: ParsedArgs): Promise<RunningSimulator> {
  const module = new MockR30xModule();
  const enrolled = stringArg(args, 'enrolled') === undefined ? DEFAULT_ENROLLED : integerArg(args, 'enrolled', 0, module.state.settings.capacity);
  const touchIntervalMs = intervalArg(args, 'touch-interval-ms');
  if (touchIntervalMs !== undefined && enrolled === 0) throw new UsageError('--touch-interval-ms needs at least one enrolled finger (--enrolled)');
  const count = countArg(args);
  const serialPath = stringArg(args, 'serial');
  const host = hostArg(args);
  // Slot n holds finger n, so touch n is identified as slot n.
  for (let slot = 0; slot < enrolled; slot++) module.enroll(slot, slot);
  let where: Record<string, unknown>;
  if (serialPath) {
    await module.serveSerial(serialPath);
    where = { serial: serialPath };
  } else {
    where = { host, port: (await module.serveTcp({ host, port: listenPortArg(args, DEFAULT_PORTS.r30x) })).port };
  }
  let liftTimer: NodeJS.Timeout | undefined;
  const stopTouching =
    touchIntervalMs === undefined
      ? () => {}
      : repeat(touchIntervalMs, count, (index) => {
          module.placeFinger(index % enrolled);
          // The driver reports a finger once per touch, so it must leave the sensor before the next one.
          liftTimer = setTimeout(() => module.liftFinger(), touchIntervalMs / 2);
        });
  return {
    where: { ...where, enrolled },
    async stop() {
      stopTouching();
      clearTimeout(liftTimer);
      await module.close();
    },
  };
}

/** Runs `action` every `intervalMs`, at most `count` times; returns a function that stops it. */
function repeat(intervalMs: number, count: number | undefined, action: (index: number) => void): () => void {
  let done = 0;
  const timer = setInterval(() => {
    action(done++);
    if (done === count) clearInterval(timer);
  }, intervalMs);
  return () => clearInterval(timer);
}

function hostArg(args: ParsedArgs): string {
  return stringArg(args, 'host') ?? '127.0.0.1';
}

function listenPortArg(args: ParsedArgs, fallback: number): number {
  return stringArg(args, 'port') === undefined ? fallback : portArg(args, 'port');
}

function countArg(args: ParsedArgs): number | undefined {
  return stringArg(args, 'count') === undefined ? undefined : integerArg(args, 'count', 1, Number.MAX_SAFE_INTEGER);
}

function intervalArg(args: ParsedArgs, name: string): number | undefined {
  return stringArg(args, name) === undefined ? undefined : integerArg(args, name, 1, MAX_INTERVAL_MS);
}

function hubUrlArg(args: ParsedArgs): string {
  const text = requiredArg(args, 'hub-url');
  if (!URL.canParse(text) || new URL(text).protocol !== 'http:') throw new UsageError(`--hub-url must be an http:// URL such as http://127.0.0.1:8081, not ${JSON.stringify(text)}`);
  return text;
}

function readCodes(path: string): string[] {
  const codes = readFileSync(path, 'utf8')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean);
  if (codes.length === 0) throw new UsageError(`${path} holds no codes (one per line)`);
  return codes;
}

function usersArg(args: ParsedArgs): TerminalUser[] {
  const path = stringArg(args, 'users');
  if (!path) return demoStudentCodes(DEMO_USERS).map((userId, index) => ({ userId, name: `Demo student ${index + 1}` }));
  // Spreadsheets save CSV with a byte order mark.
  const text = readFileSync(path, 'utf8').replace(/^\uFEFF/, '');
  const users = text.trimStart().startsWith('[') ? usersFromJson(text, path) : usersFromCsv(text, path);
  if (users.length === 0) throw new UsageError(`${path} holds no users`);
  return users;
}

function usersFromJson(text: string, path: string): TerminalUser[] {
  let entries: unknown;
  try {
    entries = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${path} is not valid JSON: ${messageOf(error)}`);
  }
  if (!Array.isArray(entries)) throw new UsageError(`${path} must hold a JSON array of {"userId", "name"} objects`);
  return entries.map((entry: unknown, index) => {
    const { userId, name } = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
    if (typeof userId !== 'string' && typeof userId !== 'number') throw new UsageError(`${path}: entry ${index + 1} has no userId`);
    return checkedUser({ userId: String(userId), name: typeof name === 'string' ? name : '' }, `${path}: entry ${index + 1}`);
  });
}

const CSV_HEADER = /^"?user_?id"?\s*(,|$)/i;

/** `userId,name` per line; a header line is skipped, and the name may hold further commas. */
function usersFromCsv(text: string, path: string): TerminalUser[] {
  return text.split(/\r?\n/).flatMap((line, index) => {
    if (line.trim() === '' || (index === 0 && CSV_HEADER.test(line))) return [];
    const comma = line.indexOf(',');
    const [userId, name] = comma < 0 ? [line, ''] : [line.slice(0, comma), line.slice(comma + 1)];
    return [checkedUser({ userId: unquote(userId), name: unquote(name) }, `${path}:${index + 1}`)];
  });
}

function unquote(field: string): string {
  const trimmed = field.trim();
  return /^".*"$/.test(trimmed) ? trimmed.slice(1, -1).replace(/""/g, '"') : trimmed;
}

function checkedUser(user: TerminalUser, where: string): TerminalUser {
  const idBytes = Buffer.byteLength(user.userId);
  if (idBytes === 0 || idBytes > ZK_TEXT_BYTES) throw new UsageError(`${where}: user id ${JSON.stringify(user.userId)} must be 1 to ${ZK_TEXT_BYTES} bytes`);
  if (Buffer.byteLength(user.name) > ZK_TEXT_BYTES) throw new UsageError(`${where}: name ${JSON.stringify(user.name)} is longer than the ${ZK_TEXT_BYTES} bytes a ZK terminal keeps`);
  return user;
}

function warn(text: string): void {
  process.stderr.write(`campushub sim: ${text}\n`);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
