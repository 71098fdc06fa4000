/**
 * The QR line driver on serial:// against the scanner simulator, joined by
 * a socat pseudo-terminal pair: the serial code paths of both sides run on
 * real tty devices, without hardware.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { startQrScannerSimulator } from '../../simulators/qr/scanner.js';
import { waitFor } from '../../test/support/wait.js';
import type { DeviceEvent } from '../core/driver.js';
import { createQrLineDriver, type QrLineDriverOptions } from './driver.js';

const socatMissing = spawnSync('socat', ['-V']).error ? 'socat is not installed (apt-get install socat); the serial tests need a pty pair' : undefined;
if (socatMissing) console.log(`skipping serial tests: ${socatMissing}`);

/** Starts `socat` with two linked ptys and returns their paths and a way to end it. */
async function ptyPair(t: TestContext) {
  const socat = spawn('socat', ['-d', '-d', 'pty,raw,echo=0', 'pty,raw,echo=0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = once(socat, 'exit');
  t.after(async () => {
    if (socat.exitCode === null && socat.signalCode === null) {
      socat.kill();
      await exited;
    }
  });
  let log = '';
  socat.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const paths = await waitFor(
    () => {
      const found = [...log.matchAll(/PTY is (\S+)/g)].map((match) => match[1]!);
      return found.length === 2 ? found : undefined;
    },
    { timeoutMs: 5_000, message: 'socat to report two ptys' },
  );
  return {
    scannerSide: paths[0]!,
    hostSide: paths[1]!,
    /** Ends socat, which removes both ptys, as if the reader were unplugged. */
    unplug: async () => {
      socat.kill();
      await exited;
    },
  };
}

/** A pty pair with the simulated reader on one end. */
async function scannerOnPty(t: TestContext, ackMode: boolean) {
  const pty = await ptyPair(t);
  const scanner = await startQrScannerSimulator({ serialPath: pty.scannerSide, ackMode });
  t.after(() => scanner.stop());
  return { pty, scanner };
}

async function openDriver(t: TestContext, url: string, options: QrLineDriverOptions = {}) {
  const driver = createQrLineDriver(url, { random: () => 0, ...options });
  t.after(() => driver.close());
  const received: string[] = [];
  await driver.open(async (event: DeviceEvent) => {
    if (event.type === 'scanned') received.push(event.payload);
  });
  return { driver, received };
}

/**
 * For a device that goes away: retries slowly enough not to keep the test
 * busy, and checks the device path often, because serialport notices a
 * vanished pty only some of the time (as with USB unplugs, attendance-domain.md §14).
 */
const WATCHFUL: QrLineDriverOptions = { random: Math.random, backoff: { baseMs: 50, capMs: 200 }, link: { presenceCheckMs: 50 } };

const codes = (count: number) => Array.from({ length: count }, (_, index) => `SERIAL-${index}`);

describe('QR line driver over a serial pty pair', { skip: socatMissing }, () => {
  test('scans arrive at the sink in order at the configured baud rate', async (t) => {
    const { pty, scanner } = await scannerOnPty(t, false);
    const { driver, received } = await openDriver(t, `serial://${pty.hostSide}?baud=115200`);
    assert.equal(driver.state, 'ready');
    const made = codes(20);
    for (const code of made) scanner.scan(code);
    await waitFor(() => received.length === made.length, { message: 'all scans at the sink' });
    assert.deepEqual(received, made);
  });

  test('in ACK mode every scan is acknowledged exactly once', async (t) => {
    const { pty, scanner } = await scannerOnPty(t, true);
    const { driver, received } = await openDriver(t, `serial://${pty.hostSide}?ack=1`);
    const made = codes(10);
    for (const code of made) scanner.scan(code);
    await waitFor(() => scanner.pending === 0, { message: 'every scan acknowledged' });
    assert.deepEqual(received, made);
    assert.equal(driver.stats().txFrames, made.length);
  });

  test('a serial device that goes away is noticed and the driver starts reopening', async (t) => {
    const { pty } = await scannerOnPty(t, false);
    const { driver } = await openDriver(t, `serial://${pty.hostSide}`, WATCHFUL);
    assert.equal(driver.state, 'ready');
    await pty.unplug();
    await waitFor(() => driver.state === 'reopening', { timeoutMs: 5_000, message: 'the driver to notice the unplug' });
  });

  test('a by-id style device link that vanishes is noticed even though the port itself reports nothing', async (t) => {
    const { pty } = await scannerOnPty(t, false);
    const dir = mkdtempSync(join(tmpdir(), 'campushub-serial-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const byId = join(dir, 'usb-Honeywell_Scanner-if00');
    symlinkSync(pty.hostSide, byId);
    const { driver } = await openDriver(t, `serial://${byId}`, WATCHFUL);
    assert.equal(driver.state, 'ready');
    unlinkSync(byId);
    await waitFor(() => driver.state === 'reopening', { timeoutMs: 5_000, message: 'the presence check to notice' });
  });
});
