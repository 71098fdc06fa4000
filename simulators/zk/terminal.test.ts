import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { waitFor } from '../../test/support/wait.js';
import { MockZkTerminal } from './terminal.js';
import { CMD, commKeyFor, packetBytes, PacketStream, readBody, unpackTime, type WirePacket } from './wire.js';

/** A bare-bones client on the simulator's own codec: sends packets, records each read and each packet. */
class RawClient {
  readonly packets: WirePacket[] = [];
  /** Byte count of every 'data' event, to see how the terminal paces its writes. */
  readonly reads: number[] = [];
  session = 0;
  private reply = 0;
  private readonly stream = new PacketStream();

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk) => {
      this.reads.push(chunk.length);
      this.packets.push(...this.stream.feed(chunk));
    });
  }

  static async open(terminal: MockZkTerminal): Promise<RawClient> {
    const socket = connect(terminal.port, terminal.host);
    await once(socket, 'connect');
    return new RawClient(socket);
  }

  send(code: number, payload: Buffer = Buffer.alloc(0), reply = ++this.reply): number {
    this.socket.write(packetBytes({ code, session: this.session, reply, payload }, 'tcp'));
    return reply;
  }

  /** Sends a request and waits until `count` packets with its reply id have arrived. */
  async request(code: number, payload?: Buffer, count = 1): Promise<WirePacket[]> {
    const reply = this.send(code, payload);
    const answered = () => this.packets.filter((packet) => packet.reply === reply && packet.code !== CMD.REG_EVENT);
    await waitFor(() => answered().length >= count, { message: `${count} packet(s) answering ${code}`, timeoutMs: 5000 });
    return answered();
  }

  async connect(): Promise<void> {
    const [reply] = await this.request(CMD.CONNECT);
    this.session = reply!.session;
  }

  close(): void {
    this.socket.destroy();
  }
}

const u32 = (value: number) => {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(value);
  return bytes;
};

describe('simulated ZK terminal', () => {
  let terminal: MockZkTerminal;
  const clients: RawClient[] = [];

  before(async () => {
    terminal = await MockZkTerminal.start({ packetGapMs: 5, eventGapMs: 20 });
  });

  afterEach(() => {
    clients.splice(0).forEach((client) => client.close());
  });

  after(async () => {
    await terminal.close();
  });

  async function client(): Promise<RawClient> {
    const opened = await RawClient.open(terminal);
    clients.push(opened);
    await opened.connect();
    return opened;
  }

  it('assigns a session id on CONNECT and answers ACK_UNAUTH to anything before it', async () => {
    const raw = await RawClient.open(terminal);
    clients.push(raw);
    assert.equal((await raw.request(CMD.GET_TIME))[0]!.code, CMD.ACK_UNAUTH);
    await raw.connect();
    assert.notEqual(raw.session, 0);
    assert.equal((await raw.request(CMD.GET_TIME))[0]!.code, CMD.ACK_OK);
  });

  it('accepts a connection that closes without a word, as pyzk probes', async () => {
    const probe = connect(terminal.port, terminal.host);
    await once(probe, 'connect');
    await waitFor(() => terminal.clientCount === 1, { message: 'the probe to be seen' });
    probe.end();
    await waitFor(() => terminal.clientCount === 0, { message: 'the probe to be gone' });
    await client();
    assert.equal(terminal.clientCount, 1);
  });

  it('answers an unknown command with ACK_UNKNOWN and a client ACK_OK with nothing', async () => {
    const raw = await client();
    assert.equal((await raw.request(4242))[0]!.code, CMD.ACK_UNKNOWN);
    const acks = terminal.eventAcks;
    raw.send(CMD.ACK_OK, undefined, 0);
    await waitFor(() => terminal.eventAcks === acks + 1, { message: 'the acknowledgement to count' });
    assert.equal((await raw.request(CMD.GET_TIME))[0]!.code, CMD.ACK_OK, 'the next reply is the next request\'s');
    assert.equal(raw.packets.filter((packet) => packet.reply === 0).length, 0);
  });

  it('answers requests sent in one burst in order, one packet per write', async () => {
    terminal.log.length = 0;
    terminal.fillLog(100);
    const raw = await client();
    const [announcement] = await raw.request(CMD.DATA_WRRQ, Buffer.from('010d000000000000000000', 'hex'));
    const size = announcement!.payload.readUInt32LE(1);
    assert.equal(size, 4004);
    raw.reads.length = 0;
    const chunk = (start: number, length: number) => Buffer.concat([u32(start), u32(length)]);
    const first = raw.send(CMD.DATA_RDY, chunk(0, 2000));
    const second = raw.send(CMD.DATA_RDY, chunk(2000, 2004));
    await waitFor(() => raw.packets.filter((packet) => packet.reply === second).length === 4, { message: 'the second chunk' });
    const codes = (reply: number) => raw.packets.filter((packet) => packet.reply === reply).map((packet) => packet.code);
    assert.deepEqual(codes(first), [CMD.PREPARE_DATA, CMD.DATA, CMD.DATA, CMD.ACK_OK]);
    assert.deepEqual(codes(second), [CMD.PREPARE_DATA, CMD.DATA, CMD.DATA, CMD.ACK_OK]);
    // Per chunk: PREPARE_DATA; a 1008-byte DATA; the last DATA with the closing ACK_OK in the same write.
    assert.deepEqual(raw.reads, [24, 1024, 16 + 992 + 16, 24, 1024, 16 + 996 + 16]);
  });

  it('answers a small dataset directly and an empty one with four zero bytes', async () => {
    terminal.log.length = 0;
    const raw = await client();
    const attendance = Buffer.from('010d000000000000000000', 'hex');
    assert.deepEqual((await raw.request(CMD.DATA_WRRQ, attendance))[0], { code: CMD.DATA, session: raw.session, reply: raw.packets.at(-1)!.reply, payload: Buffer.alloc(4) });
    terminal.fillLog(2);
    const [direct] = await raw.request(CMD.DATA_WRRQ, attendance);
    assert.equal(direct!.code, CMD.DATA);
    assert.equal(direct!.payload.length, 4 + 80);
  });

  it('asks the newest behaviour first, falls back to older ones, and can drop a behaviour again', async () => {
    const raw = await client();
    const remove = terminal.defineBehavior({ commands: [CMD.GET_TIME], handle: () => [{ code: CMD.ACK_ERROR }] });
    terminal.defineBehavior({ commands: 'any', handle: () => undefined });
    assert.equal((await raw.request(CMD.GET_TIME))[0]!.code, CMD.ACK_ERROR);
    remove();
    assert.equal((await raw.request(CMD.GET_TIME))[0]!.code, CMD.ACK_OK);
  });

  it('keeps the clock settable and resets it on the fault switch', async () => {
    const raw = await client();
    terminal.faults.resetClock();
    const [reading] = await raw.request(CMD.GET_TIME);
    assert.deepEqual({ ...unpackTime(reading!.payload.readUInt32LE(0)), second: 0 }, { year: 2000, month: 1, day: 1, hour: 0, minute: 0, second: 0 });
    terminal.setClock(new Date());
  });

  it('sends realtime events only to clients that registered, with session field 1 and reply id 0', async () => {
    const listener = await client();
    const bystander = await client();
    await listener.request(CMD.REG_EVENT, u32(1));
    terminal.punch('2025001', 1, 0);
    terminal.punch('2025002', 2, 1);
    await waitFor(() => listener.packets.filter((packet) => packet.code === CMD.REG_EVENT).length === 2, { message: 'two events' });
    const events = listener.packets.filter((packet) => packet.code === CMD.REG_EVENT);
    assert.deepEqual(events.map((event) => [event.session, event.reply, event.payload.length, event.payload.subarray(0, 7).toString()]), [
      [1, 0, 32, '2025001'],
      [1, 0, 32, '2025002'],
    ]);
    assert.equal(bystander.packets.some((packet) => packet.code === CMD.REG_EVENT), false);
  });

  it('drops, delays and corrupts the replies a test asks it to', async () => {
    const raw = await client();
    terminal.faults.dropReplies(1, { command: CMD.GET_TIME });
    const dropped = raw.send(CMD.GET_TIME);
    assert.equal((await raw.request(CMD.GET_FREE_SIZES))[0]!.code, CMD.ACK_OK);
    assert.equal(raw.packets.some((packet) => packet.reply === dropped), false);
    terminal.faults.corruptChecksums(1, { command: CMD.GET_TIME });
    const badBefore = raw.packets.length;
    raw.send(CMD.GET_TIME);
    await raw.request(CMD.GET_VERSION);
    assert.equal(raw.packets.length, badBefore + 1, 'the corrupted reply was not a packet');
    terminal.faults.delayReplies(150, 1, { command: CMD.GET_TIME });
    const started = Date.now();
    await raw.request(CMD.GET_TIME);
    assert.ok(Date.now() - started >= 140);
  });

  it('dribbles packets a few bytes per write when asked', async () => {
    const raw = await client();
    terminal.faults.dribble(3);
    raw.reads.length = 0;
    const [version] = await raw.request(CMD.GET_VERSION);
    terminal.faults.dribble(null);
    assert.equal(version!.payload.toString(), 'Ver 6.60 Apr 28 2015\0');
    assert.ok(raw.reads.length >= 5, `${raw.reads.length} reads`);
  });

  it('drops the connection in the middle of a chunk when asked', async () => {
    terminal.log.length = 0;
    terminal.fillLog(100);
    const raw = await client();
    await raw.request(CMD.DATA_WRRQ, Buffer.from('010d000000000000000000', 'hex'));
    terminal.faults.disconnectMidTransfer(0);
    raw.send(CMD.DATA_RDY, Buffer.concat([u32(0), u32(4004)]));
    await once(raw.socket, 'close');
    assert.deepEqual(raw.packets.at(-1)!.code, CMD.PREPARE_DATA);
  });

  it('stores users, templates and uploads sent by a client', async () => {
    const raw = await client();
    const template = Buffer.alloc(40, 7);
    await raw.request(CMD.FREE_DATA);
    await raw.request(CMD.PREPARE_DATA, u32(template.length));
    await raw.request(CMD.DATA, template);
    const [sum] = await raw.request(CMD.CHECKSUM_BUFFER);
    assert.equal(sum!.payload.readUInt32LE(0), 280);
    const write = Buffer.from([3, 0, 4, 1, 40, 0]);
    assert.equal((await raw.request(CMD.TMP_WRITE, write))[0]!.code, CMD.ACK_OK);
    assert.deepEqual(terminal.templates.at(-1), { uid: 3, finger: 4, flag: 1, data: template });
    const read = await raw.request(CMD.GET_USERTEMP, Buffer.from([3, 0, 4]), 3);
    assert.equal(read[1]!.payload.length, 41, 'one byte more than the template');
    assert.equal((await raw.request(CMD.DELETE_USERTEMP, Buffer.from([3, 0, 4])))[0]!.code, CMD.ACK_OK);
    assert.equal((await raw.request(CMD.DELETE_USERTEMP, Buffer.from([3, 0, 4])))[0]!.code, CMD.ACK_ERROR);
  });
});

describe('simulated ZK terminal with a comm key', () => {
  it('accepts the key pyzk derives and refuses any other', async () => {
    const terminal = await MockZkTerminal.start({ commKey: 45 });
    const raw = await RawClient.open(terminal);
    try {
      const [unauth] = await raw.request(CMD.CONNECT);
      assert.equal(unauth!.code, CMD.ACK_UNAUTH);
      raw.session = unauth!.session;
      assert.equal((await raw.request(CMD.AUTH, commKeyFor(12, raw.session, 50)))[0]!.code, CMD.ACK_UNAUTH);
      assert.equal((await raw.request(CMD.AUTH, commKeyFor(45, raw.session, 50)))[0]!.code, CMD.ACK_OK);
      assert.equal((await raw.request(CMD.GET_TIME))[0]!.code, CMD.ACK_OK);
    } finally {
      raw.close();
      await terminal.close();
    }
  });
});

describe('simulated ZK terminal over UDP', () => {
  it('serves a datagram client with 28-byte users and 10-byte events', async () => {
    const terminal = await MockZkTerminal.start({ packetGapMs: 0, eventGapMs: 0 });
    terminal.addUser({ uid: 7, userId: '2025007', name: 'Devi' });
    const socket = createSocket('udp4');
    const packets: WirePacket[] = [];
    socket.on('message', (message) => {
      const packet = readBody(message);
      if (packet) packets.push(packet);
    });
    await new Promise<void>((resolve) => socket.connect(terminal.port, terminal.host, resolve));
    const send = (code: number, reply: number, payload = Buffer.alloc(0)) =>
      socket.send(packetBytes({ code, session: packets[0]?.session ?? 0, reply, payload }, 'udp'));
    try {
      send(CMD.CONNECT, 1);
      await waitFor(() => packets.length === 1, { message: 'the connect reply' });
      send(CMD.DATA_WRRQ, 2, Buffer.from('0109000500000000000000', 'hex'));
      await waitFor(() => packets.length === 2, { message: 'the users' });
      assert.equal(packets[1]!.payload.readUInt32LE(0), 28);
      send(CMD.REG_EVENT, 3, u32(1));
      await waitFor(() => terminal.eventListenerCount === 1, { message: 'the registration' });
      terminal.punch('2025007');
      await waitFor(() => packets.some((packet) => packet.code === CMD.REG_EVENT), { message: 'the event' });
      const event = packets.find((packet) => packet.code === CMD.REG_EVENT)!;
      assert.equal(event.payload.length, 10);
      assert.equal(event.payload.readUInt16LE(0), 7);
    } finally {
      socket.close();
      await terminal.close();
    }
  });
});
