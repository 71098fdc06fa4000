/**
 * The session against a scripted link, for the exchanges whose timing a
 * simulator cannot pin down: what arrives in one chunk, what arrives late,
 * and what arrives unasked.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import type { ByteLink, ByteLinkEvents } from '../core/link.js';
import { LinkStatsRecorder } from '../core/linkStats.js';
import { R30xLinkLostError, R30xNoReplyError } from './errors.js';
import { toDataPackets } from './frames/dataTransfer.js';
import { R30xAck, R30xCommand } from './frames/instructions.js';
import { Pid, R30xPacket } from './frames/packet.js';
import { R30xSession } from './session.js';

/** A link whose far end is a function from each command to the bytes it answers with. */
class ScriptedLink extends EventEmitter<ByteLinkEvents> implements ByteLink {
  readonly description = 'scripted://module';
  readonly commands: string[] = [];
  closed = false;

  constructor(private readonly answer: (command: R30xCommand, index: number) => Buffer[]) {
    super();
  }

  async write(bytes: Uint8Array): Promise<void> {
    const packet = R30xPacket.from(bytes);
    if (packet.pid !== Pid.command) return;
    const command = R30xCommand.from(packet);
    this.commands.push(command.instruction);
    for (const chunk of this.answer(command, this.commands.length - 1)) setImmediate(() => this.emit('data', chunk));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.emit('close');
  }
}

const ok = (ack: R30xAck) => ack.serialize();
const countAck = (count: number) => ok(new R30xAck('TemplateNum', 0, { count }));
const template = Buffer.from(Array.from({ length: 512 }, (_, index) => (index * 13) & 0xff));

function session(link: ScriptedLink, overrides: { replyTimeoutMs?: number; retries?: number } = {}) {
  const stats = new LinkStatsRecorder();
  const created = new R30xSession(link, { address: 0xffffffff, replyTimeoutMs: 100, retries: 1, stats, log: pino({ level: 'silent' }), ...overrides });
  return { session: created, stats };
}

describe('R30x session', () => {
  test('takes an ack and every data packet of an upload from a single chunk', async () => {
    const link = new ScriptedLink(() => [Buffer.concat([ok(new R30xAck('UpChar', 0, {})), ...toDataPackets(template, 128).map((packet) => packet.serialize())])]);
    const { session: s, stats } = session(link);
    const { ack, data } = await s.upload(1);
    assert.equal(ack.ok, true);
    assert.deepEqual(data, template);
    assert.equal(stats.snapshot().rxFrames, 5);
  });

  test('does not take the late duplicate of a resent command for the reply to the next one', async () => {
    // The first Img2Tz is answered only after the resend, and then twice in a row; both acks have
    // the shape of a GenImg ack, so only timing can tell the duplicate from GenImg's own reply.
    const link = new ScriptedLink((_command, index) => {
      if (index === 0) return [];
      if (index === 1) return [ok(new R30xAck('Img2Tz', 0, {})), ok(new R30xAck('Img2Tz', 0, {}))];
      return [ok(new R30xAck('GenImg', 0x02, undefined))];
    });
    const { session: s, stats } = session(link);
    assert.equal((await s.request('Img2Tz', { buffer: 1 })).ok, true);
    assert.equal((await s.request('GenImg', {})).confirmation, 0x02);
    assert.deepEqual(link.commands, ['Img2Tz', 'Img2Tz', 'GenImg']);
    assert.deepEqual([stats.snapshot().timeouts, stats.snapshot().retries], [1, 1]);
  });

  test('skips an ack that cannot belong to the command and waits for one that can', async () => {
    const link = new ScriptedLink(() => [countAck(3), ok(new R30xAck('GenImg', 0, {}))]);
    const { session: s } = session(link);
    assert.equal((await s.request('GenImg', {})).ok, true);
  });

  test('resends a command the module reports it received garbled (0x01)', async () => {
    const link = new ScriptedLink((_command, index) => [index === 0 ? ok(new R30xAck('TemplateNum', 0x01, undefined)) : countAck(2)]);
    const { session: s, stats } = session(link);
    assert.equal((await s.request('TemplateNum', {})).values?.count, 2);
    assert.equal(stats.snapshot().retries, 1);
  });

  test('restarts an upload whose data packet arrived corrupt', async () => {
    const link = new ScriptedLink((_command, index) => {
      const packets = toDataPackets(template, 256).map((packet) => packet.serialize());
      if (index === 0) packets[1]![packets[1]!.length - 1]! ^= 0xff;
      return [ok(new R30xAck('UpChar', 0, {})), ...packets];
    });
    const { session: s, stats } = session(link);
    assert.deepEqual((await s.upload(1)).data, template);
    assert.deepEqual([stats.snapshot().checksumErrors, stats.snapshot().retries], [1, 1]);
  });

  test('closes the link and reports no reply when every attempt timed out', async () => {
    const link = new ScriptedLink(() => []);
    const { session: s, stats } = session(link, { retries: 2, replyTimeoutMs: 50 });
    await assert.rejects(s.request('TemplateNum', {}), R30xNoReplyError);
    assert.equal(link.commands.length, 3);
    assert.equal(stats.snapshot().timeouts, 3);
    assert.equal(link.closed, true);
    await assert.rejects(s.request('TemplateNum', {}), R30xLinkLostError);
  });

  test('fails the command in flight at once when the link closes under it', async () => {
    const link = new ScriptedLink(() => []);
    const { session: s } = session(link, { replyTimeoutMs: 10_000 });
    const pending = s.request('TemplateNum', {});
    await new Promise(setImmediate);
    await link.close();
    await assert.rejects(pending, R30xLinkLostError);
  });

  test('sends a download in packets of the given size, the last one marked as the end', async () => {
    const sent: R30xPacket[] = [];
    const link = new ScriptedLink(() => [ok(new R30xAck('DownChar', 0, {}))]);
    const write = link.write.bind(link);
    link.write = async (bytes) => {
      sent.push(R30xPacket.from(bytes));
      await write(bytes);
    };
    const { session: s } = session(link);
    assert.equal((await s.download(1, template, 64)).ok, true);
    assert.deepEqual(
      sent.map((packet) => [packet.pid, packet.payload.length]),
      [[Pid.command, 2], ...Array.from({ length: 7 }, () => [Pid.data, 64]), [Pid.endData, 64]],
    );
  });
});
