import type { Reply, SimConnection, SimRequest } from './connection.js';
import type { MockZkTerminal } from './terminal.js';
import {
  CMD,
  commKeyFor,
  freeSizesPayload,
  logRecord,
  packTime,
  parseUploadBatch,
  parseUserRecord,
  templateEntry,
  unpackTime,
  userRecord,
} from './wire.js';

export interface SimContext {
  terminal: MockZkTerminal;
  connection: SimConnection;
}

/** Replies to send, or undefined to leave the request to the next (older) behaviour. */
export type BehaviorResult = Reply[] | undefined;

/**
 * A small handler for some commands. The terminal asks the newest behaviour
 * first, so a test overrides a default by adding one, never by editing one.
 */
export interface ZkBehavior {
  readonly commands: readonly number[] | 'any';
  handle(request: SimRequest, context: SimContext): BehaviorResult | Promise<BehaviorResult>;
}

const ok = (payload?: Buffer): Reply[] => [{ code: CMD.ACK_OK, ...(payload ? { payload } : {}) }];
const error = (): Reply[] => [{ code: CMD.ACK_ERROR }];
const u32 = (value: number): Buffer => {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(value >>> 0);
  return bytes;
};
const cstring = (text: string): Buffer => Buffer.from(`${text}\0`, 'utf8');

function behavior(commands: number[] | 'any', handle: ZkBehavior['handle']): ZkBehavior {
  return { commands, handle };
}

/** Commands a device acknowledges without anything for the simulator to change. */
const acknowledged = behavior(
  [CMD.REFRESHDATA, CMD.REFRESHOPTION, CMD.TESTVOICE, CMD.ENABLE_CLOCK, CMD.STARTVERIFY, CMD.CANCELCAPTURE, CMD.UNLOCK, CMD.WRITE_LCD, CMD.CLEAR_LCD, CMD.RESTART, CMD.POWEROFF],
  () => ok(),
);

const session = behavior([CMD.CONNECT, CMD.AUTH, CMD.EXIT], (request, { terminal, connection }) => {
  switch (request.command) {
    case CMD.CONNECT:
      connection.sessionId = terminal.nextSessionId();
      connection.authenticated = terminal.commKey === 0;
      return [{ code: connection.authenticated ? CMD.ACK_OK : CMD.ACK_UNAUTH }];
    case CMD.AUTH: {
      const ticks = request.payload[2] ?? 0;
      connection.authenticated = request.payload.length >= 4 && commKeyFor(terminal.commKey, connection.sessionId, ticks).equals(request.payload.subarray(0, 4));
      return [{ code: connection.authenticated ? CMD.ACK_OK : CMD.ACK_UNAUTH }];
    }
    default:
      connection.endAfterReplies();
      return ok();
  }
});

const information = behavior([CMD.GET_FREE_SIZES, CMD.OPTIONS_RRQ, CMD.OPTIONS_WRQ, CMD.GET_VERSION, CMD.GET_PINWIDTH], (request, { terminal }) => {
  switch (request.command) {
    case CMD.GET_FREE_SIZES: {
      const { users, templates, records } = terminal.capacity;
      const admins = [...terminal.users.values()].filter((user) => user.privilege >= 6).length;
      const passwords = [...terminal.users.values()].filter((user) => user.password !== '').length;
      return ok(
        freeSizesPayload({
          16: terminal.users.size,
          24: terminal.templates.length,
          32: terminal.log.length,
          48: admins,
          52: passwords,
          56: templates,
          60: users,
          64: records,
          68: templates - terminal.templates.length,
          72: users - terminal.users.size,
          76: records - terminal.log.length,
        }),
      );
    }
    case CMD.OPTIONS_RRQ: {
      // zkteco-js sends the name without its NUL (§2.13 rule 17).
      const name = request.payload.toString('utf8').split('\0')[0]!;
      const value = terminal.options.get(name);
      return value === undefined ? error() : ok(cstring(`${name}=${value}`));
    }
    case CMD.OPTIONS_WRQ: {
      const [name, ...value] = request.payload.toString('utf8').split('\0')[0]!.split('=');
      if (!name || value.length === 0) return error();
      terminal.options.set(name, value.join('='));
      return ok();
    }
    case CMD.GET_VERSION:
      return ok(cstring(terminal.firmwareVersion));
    default:
      return ok(Buffer.from([9]));
  }
});

const clock = behavior([CMD.GET_TIME, CMD.SET_TIME], (request, { terminal }) => {
  if (request.command === CMD.GET_TIME) return ok(u32(packTime(terminal.now())));
  if (request.payload.length < 4) return error();
  terminal.setClock(unpackTime(request.payload.readUInt32LE(0)));
  return ok();
});

const device = behavior([CMD.ENABLEDEVICE, CMD.DISABLEDEVICE, CMD.REG_EVENT], (request, { terminal, connection }) => {
  if (request.command === CMD.REG_EVENT) connection.eventMask = request.payload.length >= 4 ? request.payload.readUInt32LE(0) : 0;
  else terminal.enabled = request.command === CMD.ENABLEDEVICE;
  return ok();
});

const users = behavior([CMD.USER_WRQ, CMD.DELETE_USER], (request, { terminal }) => {
  if (request.command === CMD.DELETE_USER) {
    // zkteco-js sends 72 bytes with the uid in the first two (§2.4).
    if (request.payload.length < 2) return error();
    terminal.deleteUser(request.payload.readUInt16LE(0));
    return ok();
  }
  const width = request.payload.length >= 72 ? 72 : request.payload.length >= 28 ? 28 : null;
  if (width === null) return error();
  terminal.addUser(parseUserRecord(request.payload, width));
  return ok();
});

const clearing = behavior([CMD.CLEAR_ATTLOG, CMD.CLEAR_DATA], (request, { terminal }) => {
  // How CLEAR_DATA encodes its flag is not documented (§6); an empty payload, as zkteco-js sends, clears everything.
  const flag = request.command === CMD.CLEAR_ATTLOG ? 1 : (request.payload[0] ?? 0);
  if (flag === 0 || flag === 1) terminal.log.length = 0;
  if (flag === 0 || flag === 2) terminal.templates.length = 0;
  if (flag === 0 || flag === 5) terminal.clearUsers();
  return ok();
});

/** 1503: the dataset at once (CMD_DATA) when small or empty, else announced for chunked reads (§2.8, §2.13 rules 6, 10). */
const prepareBuffer = behavior([CMD.DATA_WRRQ], (request, { terminal, connection }) => {
  if (request.payload.length < 11) return error();
  const records = datasetRecords(terminal, request.payload.readInt16LE(1), connection.transport === 'tcp');
  if (records === null) return error();
  const dataset = Buffer.concat([u32(records.length), records]);
  if (records.length === 0 || dataset.length <= terminal.settings.directReplyLimit) return [{ code: CMD.DATA, payload: dataset }];
  connection.readBuffer = dataset;
  const announcement = Buffer.alloc(13);
  announcement.writeUInt32LE(dataset.length, 1);
  announcement.writeUInt32LE(dataset.length, 5);
  announcement.writeUInt32LE(byteSum(dataset), 9);
  return ok(announcement);
});

function datasetRecords(terminal: MockZkTerminal, innerCommand: number, tcp: boolean): Buffer | null {
  switch (innerCommand) {
    case CMD.USERTEMP_RRQ:
      return Buffer.concat(terminal.sortedUsers().map((user) => userRecord(user, tcp ? 72 : 28)));
    case CMD.ATTLOG_RRQ:
      return Buffer.concat(terminal.log.map((record) => logRecord(record, tcp ? 40 : 16)));
    case CMD.DB_RRQ:
      return Buffer.concat(terminal.templates.map(templateEntry));
    case CMD.OPLOG_RRQ:
      return Buffer.alloc(0);
    default:
      return null;
  }
}

/**
 * PREPARE_DATA (size, DATA packet size), the bytes in DATA packets, then an
 * empty ACK_OK (§2.8, §2.13 rule 7).
 *
 * The ACK_OK shares the write of the last DATA packet. node-zklib and
 * zkteco-js finish a chunk on its last DATA byte and drop the rest of that
 * read (readWithBuffer: `totalBuffer = Buffer.from([])`), but they take the
 * first read after any later write as that command's reply (§2.13 rule 4):
 * an ACK_OK in a read of its own becomes the "reply" to their FREE_DATA, and
 * every reply after it is off by one.
 */
function sendInPackets(bytes: Buffer, packetSize: number): Reply[] {
  const prepare = Buffer.concat([u32(bytes.length), u32(packetSize)]);
  const data: Reply[] = [];
  for (let at = 0; at < bytes.length; at += packetSize) data.push({ code: CMD.DATA, payload: bytes.subarray(at, at + packetSize) });
  return [{ code: CMD.PREPARE_DATA, payload: prepare }, ...data, { code: CMD.ACK_OK, sameWrite: true }];
}

const readBuffer = behavior([CMD.DATA_RDY, CMD.FREE_DATA], (request, { terminal, connection }) => {
  if (request.command === CMD.FREE_DATA) {
    connection.readBuffer = null;
    connection.upload = null;
    return ok();
  }
  if (!connection.readBuffer || request.payload.length < 8) return error();
  const start = request.payload.readUInt32LE(0);
  const size = request.payload.readUInt32LE(4);
  if (start + size > connection.readBuffer.length) return error();
  return sendInPackets(connection.readBuffer.subarray(start, start + size), terminal.settings.dataPacketSize);
});

const upload = behavior([CMD.PREPARE_DATA, CMD.DATA, CMD.CHECKSUM_BUFFER], (request, { connection }) => {
  if (request.command === CMD.PREPARE_DATA) {
    if (request.payload.length < 4) return error();
    connection.upload = { size: request.payload.readUInt32LE(0), parts: [] };
    return ok();
  }
  if (!connection.upload) return error();
  if (request.command === CMD.DATA) {
    connection.upload.parts.push(request.payload);
    return ok();
  }
  // The real algorithm is unknown (§6); clients do not check the value.
  return ok(u32(byteSum(Buffer.concat(connection.upload.parts))));
});

function uploaded(connection: SimConnection): Buffer | null {
  if (!connection.upload) return null;
  const bytes = Buffer.concat(connection.upload.parts);
  return bytes.length === connection.upload.size ? bytes : null;
}

const templates = behavior(
  [CMD.TMP_WRITE, CMD.SAVE_USERTEMPS, CMD.GET_USERTEMP, CMD.USERTEMP_RRQ, CMD.DELETE_USERTEMP, CMD.DEL_USER_TEMP],
  (request, { terminal, connection }) => {
    const payload = request.payload;
    switch (request.command) {
      case CMD.TMP_WRITE: {
        const bytes = uploaded(connection);
        if (!bytes || payload.length < 6 || payload.readUInt16LE(4) !== bytes.length) return error();
        terminal.putTemplate({ uid: payload.readUInt16LE(0), finger: payload[2]!, flag: payload[3]!, data: bytes });
        return ok();
      }
      case CMD.SAVE_USERTEMPS: {
        const bytes = uploaded(connection);
        const batch = bytes && parseUploadBatch(bytes, connection.transport === 'tcp' ? 72 : 28);
        if (!batch) return error();
        batch.users.forEach((user) => terminal.addUser(user));
        batch.templates.forEach((template) => terminal.putTemplate(template));
        return ok();
      }
      case CMD.DEL_USER_TEMP: {
        if (payload.length < 25) return error();
        const userId = payload.subarray(0, 24).toString('utf8').split('\0')[0];
        const user = terminal.sortedUsers().find((candidate) => candidate.userId === userId);
        return user && terminal.deleteTemplate(user.uid, payload[24]!) ? ok() : error();
      }
      default: {
        if (payload.length < 3) return error();
        const uid = payload.readUInt16LE(0);
        const finger = payload[2]!;
        if (request.command === CMD.DELETE_USERTEMP) return terminal.deleteTemplate(uid, finger) ? ok() : error();
        const template = terminal.templates.find((candidate) => candidate.uid === uid && candidate.finger === finger);
        if (!template) return error();
        // 88 answers with one byte more than the template, as in pyzk's capture (§2.10).
        const body = request.command === CMD.GET_USERTEMP ? Buffer.concat([template.data, Buffer.from([0])]) : template.data;
        return sendInPackets(body, terminal.settings.dataPacketSize);
      }
    }
  },
);

/** Before CONNECT, and before AUTH where a comm key is set, a device answers ACK_UNAUTH. */
const guard = behavior('any', (request, { connection }) => {
  if (connection.authenticated || request.command === CMD.CONNECT || request.command === CMD.AUTH) return undefined;
  return [{ code: CMD.ACK_UNAUTH }];
});

/** Every command gets a reply, unknown ones ACK_UNKNOWN (§2.13 rule 13). */
const unknown = behavior('any', () => [{ code: CMD.ACK_UNKNOWN }]);

/** The defaults, oldest first; the terminal asks them newest first. */
export const DEFAULT_BEHAVIORS: readonly ZkBehavior[] = [
  unknown,
  acknowledged,
  session,
  information,
  clock,
  device,
  users,
  clearing,
  prepareBuffer,
  readBuffer,
  upload,
  templates,
  guard,
];

function byteSum(bytes: Buffer): number {
  let sum = 0;
  for (const byte of bytes) sum = (sum + byte) >>> 0;
  return sum;
}

