import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { MockZkTerminal } from '../../simulators/zk/terminal.js';
import { waitFor } from '../../test/support/wait.js';
import { createLinkFactory } from '../core/linkFactory.js';
import { LinkStatsRecorder } from '../core/linkStats.js';
import { parseTransportUrl } from '../core/transportUrl.js';
import { ZkAuthError, ZkDeviceError, ZkTimeoutError } from './errors.js';
import { Dataset } from './frames/buffered.js';
import { ZkCommand, ZkEventFlag, ZkReply } from './frames/codes.js';
import { decodeAttendances } from './frames/attendance.js';
import { TemplateSlot } from './frames/templates.js';
import { ZkSession, type SessionOptions } from './session.js';

const silent = pino({ level: 'silent' });

async function openSession(terminal: MockZkTerminal, options: Partial<SessionOptions> = {}) {
  const stats = new LinkStatsRecorder();
  const link = await createLinkFactory(parseTransportUrl(`tcp://${terminal.host}:${terminal.port}`), { connectTimeoutMs: 1000 })();
  const session = new ZkSession(link, 'tcp', { commKey: 0, timeoutMs: 200, attempts: 3, ...options }, stats, silent);
  return { session, stats };
}

describe('ZK session', () => {
  let terminal: MockZkTerminal;
  const sessions: ZkSession[] = [];

  before(async () => {
    terminal = await MockZkTerminal.start({ packetGapMs: 0, commKey: 45 });
  });

  afterEach(async () => {
    await Promise.all(sessions.splice(0).map((session) => session.close()));
  });

  after(async () => {
    await terminal.close();
  });

  async function connected(options: Partial<SessionOptions> = {}) {
    const opened = await openSession(terminal, { commKey: 45, ...options });
    sessions.push(opened.session);
    await opened.session.connect();
    return opened;
  }

  it('takes the session id from the reply to CMD_CONNECT and authenticates with the comm key', async () => {
    const { session } = await connected();
    assert.notEqual(session.sessionId, 0);
    const auth = terminal.requests.findLast((request) => request.command === ZkCommand.AUTH)!;
    assert.equal(auth.session, session.sessionId);
    assert.equal((await session.command(ZkCommand.GET_TIME)).length, 4);
  });

  it('refuses to go on without a comm key, or with a wrong one', async () => {
    const missing = await openSession(terminal);
    sessions.push(missing.session);
    await assert.rejects(missing.session.connect(), ZkAuthError);
    const wrong = await openSession(terminal, { commKey: 12 });
    sessions.push(wrong.session);
    await assert.rejects(wrong.session.connect(), ZkAuthError);
  });

  it('gives every attempt its own reply id and ignores the late reply to one that timed out', async () => {
    const { session, stats } = await connected();
    terminal.faults.delayReplies(300, 1, { command: ZkCommand.GET_TIME });
    const before = terminal.requests.length;
    assert.equal((await session.command(ZkCommand.GET_TIME)).length, 4);
    const sent = terminal.requests.slice(before).filter((request) => request.command === ZkCommand.GET_TIME);
    assert.equal(sent.length, 2);
    assert.notEqual(sent[0]!.replyId, sent[1]!.replyId);
    assert.equal(stats.snapshot().timeouts, 1);
    assert.equal(stats.snapshot().retries, 1);
  });

  it('gives up after the configured attempts with a timeout error', async () => {
    const { session, stats } = await connected({ attempts: 2 });
    terminal.faults.dropReplies(2, { command: ZkCommand.GET_TIME });
    await assert.rejects(session.command(ZkCommand.GET_TIME), ZkTimeoutError);
    assert.equal(stats.snapshot().timeouts, 2);
    assert.equal(stats.snapshot().retries, 1);
  });

  it('does not retry a refusal: the device answered, and would answer the same again', async () => {
    const { session, stats } = await connected();
    await assert.rejects(session.command(4242), (error: unknown) => error instanceof ZkDeviceError && error.reply === ZkReply.ACK_UNKNOWN);
    assert.equal(stats.snapshot().retries, 0);
  });

  it('does not repeat an upload step, which would append to the device buffer twice', async () => {
    const { session } = await connected();
    terminal.faults.dropReplies(1, { command: ZkCommand.DATA });
    await assert.rejects(session.upload(Buffer.alloc(10), 1024), ZkTimeoutError);
    assert.equal(terminal.requests.filter((request) => request.command === ZkCommand.DATA).length, 1);
  });

  it('reads a small dataset from the direct reply and a large one in chunks', async () => {
    const { session } = await connected();
    terminal.log.length = 0;
    terminal.fillLog(3);
    assert.equal(decodeAttendances(await session.readDataset(Dataset.attendance, 1024), 3).length, 3);
    terminal.fillLog(997);
    const progress: number[] = [];
    const records = await session.readDataset(Dataset.attendance, 4096, (received) => progress.push(received));
    assert.equal(records.length, 40_000);
    assert.deepEqual(progress, [4096, 8192, 12_288, 16_384, 20_480, 24_576, 28_672, 32_768, 36_864, 40_004]);
  });

  it('retries a chunk whose DATA packet arrived with a bad checksum, and counts the error', async () => {
    const { session, stats } = await connected();
    terminal.log.length = 0;
    terminal.fillLog(100);
    terminal.faults.corruptChecksums(1, { command: ZkCommand.READ_BUFFER, reply: ZkCommand.DATA });
    assert.equal((await session.readDataset(Dataset.attendance, 65_472)).length, 4000);
    assert.equal(stats.snapshot().checksumErrors, 1);
    assert.equal(stats.snapshot().retries, 1);
  });

  it('reads a template with its trailing byte removed, and null for an empty slot', async () => {
    const { session } = await connected();
    terminal.putTemplate({ uid: 3, finger: 2, flag: 1, data: Buffer.alloc(2000, 9) });
    assert.deepEqual(await session.readTemplate(new TemplateSlot(3, 2)), Buffer.alloc(2000, 9));
    assert.equal(await session.readTemplate(new TemplateSlot(3, 5)), null);
  });

  it('hands realtime packets to its listeners instead of taking them for replies, and acknowledges them', async () => {
    const { session } = await connected();
    const flags = Buffer.alloc(4);
    flags.writeUInt32LE(ZkEventFlag.ATTLOG);
    await session.command(ZkCommand.REG_EVENT, flags);
    const events: number[] = [];
    session.on('event', (flag) => events.push(flag));
    terminal.punch('7');
    await waitFor(() => events.length === 1, { message: 'the event' });
    assert.deepEqual(events, [ZkEventFlag.ATTLOG]);
    const acks = terminal.eventAcks;
    await session.acknowledgeEvent();
    await waitFor(() => terminal.eventAcks === acks + 1, { message: 'the acknowledgement' });
  });
});
