/**
 * The scanner simulator against a bare TCP socket playing the host, so that
 * its wire behaviour is checked without the driver it is meant to test.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { hostAnswerVectors } from '../../fixtures/frames/qr/vectors.js';
import { waitFor } from '../../test/support/wait.js';
import { startQrScannerSimulator, type QrScannerSimulator, type QrScannerSimulatorOptions } from './scanner.js';
import { ManualTimers } from '../../test/support/manualTimers.js';

const answer = (meaning: 'ack' | 'nak') => Buffer.from(hostAnswerVectors().find((vector) => vector.meaning === meaning)!.hex, 'hex');

async function startScanner(t: TestContext, options: QrScannerSimulatorOptions = {}): Promise<QrScannerSimulator> {
  const scanner = await startQrScannerSimulator(options);
  t.after(() => scanner.stop());
  return scanner;
}

/** A bare TCP client standing in for the host; `text()` is everything received so far. */
async function connectHost(t: TestContext, scanner: QrScannerSimulator) {
  const socket: Socket = connect(scanner.address().port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  t.after(() => socket.destroy());
  await once(socket, 'connect', { signal: AbortSignal.timeout(10_000) });
  const bytes = () => Buffer.concat(chunks);
  return {
    socket,
    bytes,
    text: () => bytes().toString('utf8'),
    chunkCount: () => chunks.length,
    until: (expected: string) => waitFor(() => bytes().toString('utf8') === expected, { message: `host to receive ${JSON.stringify(expected)}, got ${JSON.stringify(bytes().toString('utf8'))}` }),
  };
}

describe('QR scanner simulator', () => {
  test('scans are sent as CR-terminated lines in the order they were made', async (t) => {
    const scanner = await startScanner(t);
    const host = await connectHost(t, scanner);
    const delivered: string[] = [];
    scanner.on('delivered', (code) => delivered.push(code));
    scanner.scan('2025CS001');
    scanner.scan('学生');
    await host.until('2025CS001\r学生\r');
    await waitFor(() => scanner.pending === 0, { message: 'nothing pending' });
    assert.deepEqual(delivered, ['2025CS001', '学生']);
  });

  test('the terminator, prefix and AIM identifier are configurable', async (t) => {
    const scanner = await startScanner(t, { terminator: '\r\n', prefix: '#', aimIdentifier: ']Q1' });
    const host = await connectHost(t, scanner);
    scanner.scan('2025CS001');
    await host.until('#]Q12025CS001\r\n');
  });

  test('scans made while no host is connected are queued and sent on connect', async (t) => {
    const scanner = await startScanner(t);
    scanner.scan('EARLY-1');
    scanner.scan('EARLY-2');
    assert.equal(scanner.pending, 2);
    const host = await connectHost(t, scanner);
    await host.until('EARLY-1\rEARLY-2\r');
  });

  test('a code a scanner cannot send is refused', async (t) => {
    const scanner = await startScanner(t);
    assert.throws(() => scanner.scan(''), RangeError);
    assert.throws(() => scanner.scan('A\rB'), RangeError);
  });

  test('a newer host connection replaces the older one', async (t) => {
    const scanner = await startScanner(t);
    const first = await connectHost(t, scanner);
    const firstClosed = once(first.socket, 'close', { signal: AbortSignal.timeout(10_000) });
    const second = await connectHost(t, scanner);
    await firstClosed;
    scanner.scan('TO-SECOND');
    await second.until('TO-SECOND\r');
    assert.equal(first.text(), '');
  });

  describe('in ACK mode', () => {
    test('the next scan waits until the host sends ACK', async (t) => {
      const scanner = await startScanner(t, { ackMode: true });
      const host = await connectHost(t, scanner);
      scanner.scan('ONE');
      scanner.scan('TWO');
      await host.until('ONE\r');
      assert.equal(scanner.pending, 2);
      const delivered = once(scanner, 'delivered', { signal: AbortSignal.timeout(10_000) });
      host.socket.write(answer('ack'));
      assert.deepEqual(await delivered, ['ONE']);
      await host.until('ONE\rTWO\r');
      assert.equal(scanner.pending, 1, 'TWO waits for its own ACK');
    });

    test('a NAK makes the scanner send the same scan again', async (t) => {
      const scanner = await startScanner(t, { ackMode: true });
      const host = await connectHost(t, scanner);
      scanner.scan('AGAIN');
      await host.until('AGAIN\r');
      const refused = once(scanner, 'nak', { signal: AbortSignal.timeout(10_000) });
      host.socket.write(answer('nak'));
      assert.deepEqual(await refused, ['AGAIN']);
      await host.until('AGAIN\rAGAIN\r');
      assert.equal(scanner.pending, 1);
    });

    test('no answer within the ACK timeout makes the scanner send the scan again', async (t) => {
      const timers = new ManualTimers();
      const scanner = await startScanner(t, { ackMode: true, ackTimeoutMs: 2_000, timers });
      const host = await connectHost(t, scanner);
      scanner.scan('SILENT');
      await host.until('SILENT\r');
      await waitFor(() => timers.delays.length === 1, { message: 'the ACK timeout armed' });
      assert.deepEqual(timers.delays, [2_000]);
      timers.fireAll();
      await host.until('SILENT\rSILENT\r');
    });

    test('a scan awaiting its ACK goes at once to a host that connects in place of the first', async (t) => {
      // Timers that never fire, so only the new connection can cause the resend.
      const scanner = await startScanner(t, { ackMode: true, timers: new ManualTimers() });
      const first = await connectHost(t, scanner);
      scanner.scan('UNANSWERED');
      await first.until('UNANSWERED\r');
      const second = await connectHost(t, scanner);
      await second.until('UNANSWERED\r');
      assert.equal(scanner.pending, 1);
    });

    test('a scan cut off by a disconnect is kept and sent whole to the next host', async (t) => {
      const scanner = await startScanner(t, { ackMode: true, faults: { dropAfterBytes: 3 } });
      const first = await connectHost(t, scanner);
      const closed = once(first.socket, 'close', { signal: AbortSignal.timeout(10_000) });
      scanner.scan('KEEP-ME');
      await closed;
      assert.equal(first.text(), 'KEE');
      assert.equal(scanner.faults.dropAfterBytes, 0, 'the drop fault switches itself off');
      const second = await connectHost(t, scanner);
      await second.until('KEEP-ME\r');
      second.socket.write(answer('ack'));
      await waitFor(() => scanner.pending === 0, { message: 'the scan acknowledged' });
    });
  });

  describe('faults', () => {
    test('dribble writes each line in pieces that still add up to the line', async (t) => {
      const scanner = await startScanner(t, { faults: { dribbleBytes: 2 } });
      const host = await connectHost(t, scanner);
      scanner.scan('DRIBBLED');
      await host.until('DRIBBLED\r');
      assert.ok(host.chunkCount() > 1, `expected several chunks, got ${host.chunkCount()}`);
    });

    test('garbage bytes go out before each scan', async (t) => {
      const scanner = await startScanner(t, { faults: { garbageBeforeScan: Uint8Array.of(0x00, 0xff) } });
      const host = await connectHost(t, scanner);
      scanner.scan('A');
      scanner.scan('B');
      await waitFor(() => host.bytes().length === 8, { message: 'two noisy lines' });
      assert.equal(host.bytes().toString('hex'), '00ff410d00ff420d');
    });

    test('faults can be switched while the scanner runs', async (t) => {
      const scanner = await startScanner(t);
      const host = await connectHost(t, scanner);
      scanner.scan('CLEAN');
      await host.until('CLEAN\r');
      scanner.faults.garbageBeforeScan = Uint8Array.of(0x1b);
      scanner.scan('DIRTY');
      await host.until('CLEAN\r\x1bDIRTY\r');
    });
  });

  describe('autoScan', () => {
    test('scans the codes in turn on each interval and stops after count', async (t) => {
      const timers = new ManualTimers();
      const scanner = await startScanner(t, { timers });
      scanner.autoScan({ codes: ['A', 'B'], intervalMs: 500, count: 3 });
      assert.deepEqual(timers.delays, [500]);
      for (let tick = 0; tick < 3; tick++) timers.fireAll();
      assert.equal(scanner.pending, 3);
      assert.deepEqual(timers.delays, [], 'no timer left after count scans');
      const host = await connectHost(t, scanner);
      await host.until('A\rB\rA\r');
    });

    test('the returned function stops the schedule', async (t) => {
      const timers = new ManualTimers();
      const scanner = await startScanner(t, { timers });
      const stop = scanner.autoScan({ codes: ['A'], intervalMs: 1_000 });
      timers.fireAll();
      stop();
      assert.deepEqual(timers.delays, []);
      assert.equal(scanner.pending, 1);
    });
  });
});
