/**
 * The simulated module on its own, spoken to in raw bytes over TCP and a
 * socat pty pair: golden exchanges from fixtures/frames/r30x, the finger
 * model, template transfers, behaviours and fault switches.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Socket } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { SerialPort } from 'serialport';
import { r30xExchanges } from '../../fixtures/frames/r30x/index.js';
import { waitFor } from '../../test/support/wait.js';
import { MockR30xModule, type MockR30xModuleOptions } from './module.js';
import { createPtyPair } from './ptyPair.js';
import { PID_ACK, PID_COMMAND, PID_DATA, PID_END_OF_DATA, PacketReader, encodePacket, type WirePacket } from './wire.js';

const HOST = 0xffffffff;

/** A host that speaks raw packets and collects every byte and packet the module sends. */
class RawHost {
  readonly bytes: Buffer[] = [];
  readonly packets: WirePacket[] = [];
  readonly corrupt: number[] = [];
  private readonly reader = new PacketReader((event) => (event.kind === 'packet' ? this.packets.push(event.packet) : this.corrupt.push(event.pid)));

  constructor(private readonly write: (bytes: Buffer) => void) {}

  receive(chunk: Buffer): void {
    this.bytes.push(chunk);
    this.reader.feed(chunk);
  }

  command(instruction: number, parameters: number[] = [], address = HOST): void {
    this.write(encodePacket(address, PID_COMMAND, Buffer.from([instruction, ...parameters])));
  }

  sendRaw(bytes: Buffer): void {
    this.write(bytes);
  }

  /** Waits for the module's packet number `index` (0 = first) and returns it. */
  async packet(index: number): Promise<WirePacket> {
    return waitFor(() => this.packets[index], { timeoutMs: 5_000, message: `packet ${index} from the module` });
  }

  /** Sends a command and returns its ack. */
  async ask(instruction: number, parameters: number[] = []): Promise<{ confirmation: number; values: Buffer }> {
    const index = this.packets.length;
    this.command(instruction, parameters);
    const ack = await this.packet(index);
    assert.equal(ack.pid, PID_ACK);
    return { confirmation: ack.payload[0]!, values: ack.payload.subarray(1) };
  }
}

async function startModule(t: TestContext, options: MockR30xModuleOptions = {}) {
  const module = new MockR30xModule(options);
  const { port } = await module.serveTcp();
  t.after(() => module.close());
  return { module, port };
}

async function connectHost(t: TestContext, port: number): Promise<{ host: RawHost; socket: Socket }> {
  const socket = new Socket();
  socket.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const host = new RawHost((bytes) => socket.write(bytes));
  socket.on('data', (chunk) => host.receive(chunk));
  t.after(() => socket.destroy());
  return { host, socket };
}

const u16 = (value: number) => [value >> 8, value & 0xff];

describe('simulated R30x module', () => {
  for (const exchange of r30xExchanges) {
    test(`answers the golden exchange byte for byte: ${exchange.name}`, async (t) => {
      const { module, port } = await startModule(t);
      for (const slot of exchange.setup.enrolledSlots ?? []) module.enroll(slot, 1000 + slot);
      const { host } = await connectHost(t, port);
      if (exchange.replyHex === '') {
        host.sendRaw(Buffer.from(exchange.requestHex, 'hex'));
        // Silence can only be proved by something that comes after it.
        host.command(0x40);
        const next = await host.packet(0);
        assert.deepEqual(next.payload, Buffer.of(0x00), 'only the Handshake sent after it is answered');
        return;
      }
      host.sendRaw(Buffer.from(exchange.requestHex, 'hex'));
      await waitFor(() => Buffer.concat(host.bytes).length >= exchange.replyHex.length / 2, { message: 'the whole reply' });
      assert.equal(Buffer.concat(host.bytes).toString('hex'), exchange.replyHex);
    });
  }

  test('finds the page enrolled with the same finger, with a score, and nothing for another finger', async (t) => {
    const { module, port } = await startModule(t);
    module.enroll(3, 42);
    module.enroll(4, 43);
    const { host } = await connectHost(t, port);
    assert.equal((await host.ask(0x01)).confirmation, 0x02, 'no finger yet');
    module.placeFinger(42);
    assert.equal((await host.ask(0x01)).confirmation, 0x00);
    assert.equal((await host.ask(0x02, [1])).confirmation, 0x00);
    const found = await host.ask(0x04, [1, ...u16(0), ...u16(1000)]);
    assert.equal(found.confirmation, 0x00);
    assert.equal(found.values.readUInt16BE(0), 3);
    assert.ok(found.values.readUInt16BE(2) >= 200, `score ${found.values.readUInt16BE(2)} of the same finger`);
    module.placeFinger(99);
    await host.ask(0x01);
    await host.ask(0x02, [1]);
    const missing = await host.ask(0x04, [1, ...u16(0), ...u16(1000)]);
    assert.deepEqual([missing.confirmation, [...missing.values]], [0x09, [0, 0, 0, 0]]);
  });

  test('enrols through two captures, RegModel and Store, and refuses to merge two different fingers', async (t) => {
    const { module, port } = await startModule(t);
    const { host } = await connectHost(t, port);
    module.placeFinger(7);
    await host.ask(0x01);
    await host.ask(0x02, [1]);
    await host.ask(0x01);
    await host.ask(0x02, [2]);
    assert.equal((await host.ask(0x05)).confirmation, 0x00);
    assert.equal((await host.ask(0x06, [1, ...u16(12)])).confirmation, 0x00);
    assert.deepEqual([...module.state.library.keys()], [12]);
    module.placeFinger(8);
    await host.ask(0x01);
    await host.ask(0x02, [2]);
    assert.equal((await host.ask(0x05)).confirmation, 0x0a);
  });

  test('uploads a template in data packets of the configured size, and takes one back that still matches', async (t) => {
    const { module, port } = await startModule(t, { packetSizeCode: 3 });
    module.enroll(5, 42);
    const { host } = await connectHost(t, port);
    await host.ask(0x07, [1, ...u16(5)]);
    assert.equal((await host.ask(0x08, [1])).confirmation, 0x00);
    const data = [await host.packet(2), await host.packet(3)];
    assert.deepEqual(
      data.map((packet) => [packet.pid, packet.payload.length]),
      [
        [PID_DATA, 256],
        [PID_END_OF_DATA, 256],
      ],
    );
    const template = Buffer.concat(data.map((packet) => packet.payload));
    assert.deepEqual(template, module.state.library.get(5));

    await host.ask(0x0d);
    assert.equal((await host.ask(0x09, [2])).confirmation, 0x00);
    host.sendRaw(encodePacket(HOST, PID_DATA, template.subarray(0, 256)));
    host.sendRaw(encodePacket(HOST, PID_END_OF_DATA, template.subarray(256)));
    assert.equal((await host.ask(0x06, [2, ...u16(9)])).confirmation, 0x00, 'Store right after the data: no ack came between');
    assert.deepEqual(module.state.library.get(9), template);
  });

  test('leaves the char buffer empty when the host sizes its data packets differently from ReadSysPara', async (t) => {
    const { module, port } = await startModule(t);
    const { host } = await connectHost(t, port);
    await host.ask(0x09, [1]);
    host.sendRaw(encodePacket(HOST, PID_DATA, Buffer.alloc(256)));
    host.sendRaw(encodePacket(HOST, PID_END_OF_DATA, Buffer.alloc(256)));
    assert.equal((await host.ask(0x06, [1, ...u16(0)])).confirmation, 0x0c);
    assert.equal(module.state.library.size, 0);
  });

  test('answers a command whose checksum is wrong with 0x01, packet receive error', async (t) => {
    const { port } = await startModule(t);
    const { host } = await connectHost(t, port);
    const garbled = encodePacket(HOST, PID_COMMAND, Buffer.of(0x1d));
    garbled[garbled.length - 1]! ^= 0x01;
    host.sendRaw(garbled);
    assert.deepEqual((await host.packet(0)).payload, Buffer.of(0x01));
  });

  test('with a password set, refuses commands with 0x21 until VfyPwd succeeds', async (t) => {
    const { port } = await startModule(t, { password: 0x01020304 });
    const { host } = await connectHost(t, port);
    assert.equal((await host.ask(0x1d)).confirmation, 0x21);
    assert.equal((await host.ask(0x13, [1, 2, 3, 5])).confirmation, 0x13);
    assert.equal((await host.ask(0x13, [1, 2, 3, 4])).confirmation, 0x00);
    assert.equal((await host.ask(0x1d)).confirmation, 0x00);
  });

  test('the newest behaviour for an instruction wins, and one that declines hands over to the older ones', async (t) => {
    const { module, port } = await startModule(t);
    module.defineBehavior({ instruction: 0x1d, handle: () => ({ confirmation: 0x00, values: Buffer.of(0x01, 0x00) }) });
    module.defineBehavior({ instruction: 0x1d, handle: (_context, parameters) => (parameters.length > 0 ? 'silent' : undefined) });
    const { host } = await connectHost(t, port);
    assert.equal((await host.ask(0x1d)).values.readUInt16BE(0), 256);
  });

  describe('fault switches', () => {
    test('drop reply answers nothing to the targeted instruction, once', async (t) => {
      const { module, port } = await startModule(t);
      module.faults.dropReply({ instruction: 0x1d });
      const { host } = await connectHost(t, port);
      host.command(0x1d);
      assert.equal((await host.ask(0x40)).confirmation, 0x00);
      assert.equal(host.packets.length, 1, 'TemplateNum went unanswered');
      assert.equal((await host.ask(0x1d)).confirmation, 0x00, 'the next one is answered');
    });

    test('corrupt checksum inverts the checksum of the ack or of a chosen data packet', async (t) => {
      const { module, port } = await startModule(t);
      module.enroll(0, 1);
      module.faults.corruptChecksum({ instruction: 0x1d });
      module.faults.corruptChecksum({ instruction: 0x08, dataPacket: 2 });
      const { host } = await connectHost(t, port);
      host.command(0x1d);
      await waitFor(() => host.corrupt.length === 1, { message: 'a corrupt ack' });
      await host.ask(0x07, [1, 0, 0]);
      host.command(0x08, [1]);
      await waitFor(() => host.corrupt.length === 2, { message: 'a corrupt data packet' });
      await waitFor(() => host.packets.at(-1)?.pid === PID_END_OF_DATA, { message: 'the rest of the upload' });
      assert.deepEqual(
        host.packets.map((packet) => packet.pid),
        [PID_ACK, PID_ACK, PID_DATA, PID_DATA, PID_END_OF_DATA],
        'the third of four data packets is the corrupt one',
      );
    });

    test('delay reply holds the ack back for the given time', async (t) => {
      const { module, port } = await startModule(t);
      module.faults.delayReply(150, { instruction: 0x40 });
      const { host } = await connectHost(t, port);
      const started = performance.now();
      await host.ask(0x40);
      assert.ok(performance.now() - started >= 140);
    });

    test('split frames writes each packet in pieces that arrive as separate chunks', async (t) => {
      const { module, port } = await startModule(t);
      module.faults.splitFrames(4);
      const { host } = await connectHost(t, port);
      await host.ask(0x0f);
      assert.ok(host.bytes.length >= 2, `${host.bytes.length} chunks`);
      assert.equal(Buffer.concat(host.bytes).length, 28);
    });

    test('disconnect mid-transfer drops the link after the given number of upload data packets', async (t) => {
      const { module, port } = await startModule(t);
      module.enroll(0, 1);
      module.faults.disconnectMidTransfer(2, { instruction: 0x08 });
      const { host, socket } = await connectHost(t, port);
      await host.ask(0x07, [1, 0, 0]);
      host.command(0x08, [1]);
      await once(socket, 'close');
      assert.deepEqual(
        host.packets.map((packet) => packet.pid),
        [PID_ACK, PID_ACK, PID_DATA, PID_DATA],
      );
    });

    test('disconnect mid-transfer during a download leaves the char buffer empty', async (t) => {
      const { module, port } = await startModule(t);
      module.faults.disconnectMidTransfer(1, { instruction: 0x09 });
      const { host, socket } = await connectHost(t, port);
      await host.ask(0x09, [1]);
      host.sendRaw(encodePacket(HOST, PID_DATA, Buffer.alloc(128)));
      await once(socket, 'close');
      assert.equal(module.state.charBuffers.has(1), false);
    });

    test('wrong password rejects the right password with 0x13', async (t) => {
      const { module, port } = await startModule(t);
      module.faults.rejectPassword();
      const { host } = await connectHost(t, port);
      assert.equal((await host.ask(0x13, [0, 0, 0, 0])).confirmation, 0x13);
    });
  });

  test('a new TCP connection replaces the old one', async (t) => {
    const { port } = await startModule(t);
    const first = await connectHost(t, port);
    const second = await connectHost(t, port);
    await once(first.socket, 'close');
    assert.equal((await second.host.ask(0x40)).confirmation, 0x00);
  });

  test('sends 0x55 when a host connects if it announces readiness like an R503, then answers normally', async (t) => {
    const { port } = await startModule(t, { announceReady: true });
    const { host } = await connectHost(t, port);
    assert.equal((await host.ask(0x40)).confirmation, 0x00);
    assert.equal(Buffer.concat(host.bytes)[0], 0x55);
  });

  test('serves the host end of a socat pty pair like a serial device', async (t) => {
    const pair = await createPtyPair();
    t.after(() => pair.close());
    const module = new MockR30xModule();
    module.enroll(0, 1);
    await module.serveSerial(pair.modulePath);
    t.after(() => module.close());
    const port = new SerialPort({ path: pair.hostPath, baudRate: 57_600 });
    await once(port, 'open');
    t.after(() => new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve())));
    const host = new RawHost((bytes) => port.write(bytes));
    port.on('data', (chunk: Buffer) => host.receive(chunk));
    const count = await host.ask(0x1d);
    assert.deepEqual([count.confirmation, count.values.readUInt16BE(0)], [0x00, 1]);
  });
});
