/**
 * The push terminal simulator against a bare HTTP server playing the
 * receiver, so that its wire behaviour is checked without the driver it is
 * meant to test. Delay and ErrorDelay run on a manual clock.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { pushExchange } from '../../fixtures/frames/zkpush/index.js';
import { ManualTimers } from '../../test/support/manualTimers.js';
import { waitFor } from '../../test/support/wait.js';
import { RETURN } from './behaviors.js';
import { MockPushTerminal, type MockPushTerminalOptions } from './terminal.js';

const SERIAL = '0316144680030';

interface SeenRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body: string;
}

type Reply = { status: number; body: string } | 'hold';

/**
 * A server that records every request and answers with `reply`; by default
 * the handshake gets the published options with Realtime on and a 10 s
 * Delay, uploads get `OK: n` and polls get `OK`.
 */
async function startServer(t: TestContext, reply: (request: SeenRequest) => Reply | undefined = () => undefined) {
  const seen: SeenRequest[] = [];
  const held: ServerResponse[] = [];
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const url = new URL(request.url ?? '/', 'http://server.invalid');
      const entry = { method: request.method ?? '', path: url.pathname, query: Object.fromEntries(url.searchParams), body: Buffer.concat(chunks).toString('utf8') };
      seen.push(entry);
      const answer = reply(entry) ?? defaultReply(entry);
      if (answer === 'hold') return void held.push(response);
      response.writeHead(answer.status, { 'Content-Type': 'text/plain' }).end(answer.body);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    for (const response of held) response.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const uploads = () => seen.filter((request) => request.method === 'POST' && request.path === '/iclock/cdata');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, uploads };
}

function defaultReply(request: SeenRequest): { status: number; body: string } {
  if (request.method === 'GET' && request.path === '/iclock/cdata') return { status: 200, body: pushExchange('handshake answer as published').response!.body };
  if (request.method === 'POST' && request.path === '/iclock/cdata') return { status: 200, body: `OK: ${request.body.split('\n').filter(Boolean).length}` };
  return { status: 200, body: 'OK' };
}

function startTerminal(t: TestContext, server: string, options: Partial<MockPushTerminalOptions> = {}) {
  const timers = new ManualTimers();
  const terminal = new MockPushTerminal({ server, serialNumber: SERIAL, timers, ...options });
  t.after(() => terminal.stop());
  return { terminal, timers };
}

describe('push terminal simulator', () => {
  test('the handshake sends SN, options=all and pushver, and keeps the options the server answers', async (t) => {
    const server = await startServer(t);
    const { terminal, timers } = startTerminal(t, server.url);
    assert.equal(await terminal.start(), true);
    assert.deepEqual(server.seen[0], { method: 'GET', path: '/iclock/cdata', query: { SN: SERIAL, options: 'all', pushver: '2.4.1', language: '69' }, body: '' });
    assert.deepEqual(terminal.serverOptions, pushExchange('handshake answer as published').meaning.serverOptions);
    assert.deepEqual(timers.delays, [10_000], 'the first poll is due after Delay');
  });

  test('a terminal playing PUSH V2.0.1 firmware sends no pushver', async (t) => {
    const server = await startServer(t);
    const { terminal } = startTerminal(t, server.url, { pushVersion: null });
    await terminal.start();
    assert.equal(server.seen[0]!.query.pushver, undefined);
  });

  test('a refused handshake is tried again after ErrorDelay', async (t) => {
    let refuse = true;
    const server = await startServer(t, (request) => (refuse && request.path === '/iclock/cdata' ? { status: 403, body: 'FAIL' } : undefined));
    const { terminal, timers } = startTerminal(t, server.url, { errorDelaySeconds: 7 });
    assert.equal(await terminal.start(), false);
    assert.deepEqual(timers.delays, [7_000]);
    refuse = false;
    timers.fireNext();
    await once(terminal, 'handshake');
  });

  test('punches go up as seven tab-separated ATTLOG columns, in order, the last record number as Stamp', async (t) => {
    const server = await startServer(t);
    const { terminal } = startTerminal(t, server.url);
    terminal.punch('1', 1, 0, new Date(2015, 6, 3, 14, 26, 14));
    terminal.punch('2', 4, 1, new Date(2015, 6, 3, 14, 27, 2));
    await terminal.start();
    await once(terminal, 'acknowledged');
    const [upload] = server.uploads();
    const golden = pushExchange('two punches, seven columns');
    assert.equal(upload!.body, golden.request.body);
    assert.deepEqual(upload!.query, { SN: SERIAL, table: 'ATTLOG', Stamp: '2' });
    assert.deepEqual(terminal.pending, []);
  });

  test('with Realtime on, each punch goes up at once', async (t) => {
    const server = await startServer(t);
    const { terminal } = startTerminal(t, server.url);
    await terminal.start();
    terminal.punch('5', 15);
    await once(terminal, 'acknowledged');
    assert.equal(server.uploads().length, 1);
  });

  test('an upload not answered OK is kept and sent again after ErrorDelay', async (t) => {
    let failures = 1;
    const server = await startServer(t, (request) => (request.method === 'POST' && failures-- > 0 ? { status: 500, body: 'ERROR' } : undefined));
    const { terminal, timers } = startTerminal(t, server.url);
    await terminal.start();
    terminal.punch('5', 15);
    const [records, reason] = await once(terminal, 'uploadFailed');
    assert.equal(records.length, 1);
    assert.match(reason, /500/);
    assert.equal(terminal.pending.length, 1);
    assert.deepEqual(timers.delays.sort(), [10_000, 30_000], 'the poll and the retry after ErrorDelay');
    terminal.punch('6', 1);
    assert.equal(server.uploads().length, 1, 'nothing goes up before ErrorDelay has passed');
    timers.fireNext();
    timers.fireNext();
    await waitFor(() => terminal.pending.length === 0, { message: 'both records OK’d' });
    assert.equal(server.uploads().at(-1)!.body.split('\n').filter(Boolean).length, 2, 'the resend carries the old record and the new one');
  });

  test('a server slower than requestTimeoutMs counts as failed and the records are sent again', async (t) => {
    let hold = true;
    const server = await startServer(t, (request) => (request.method === 'POST' && hold ? 'hold' : undefined));
    const { terminal, timers } = startTerminal(t, server.url, { requestTimeoutMs: 200 });
    await terminal.start();
    terminal.punch('5', 15);
    const [, reason] = await once(terminal, 'uploadFailed');
    assert.match(reason, /no answer within 200 ms/);
    hold = false;
    timers.fireNext();
    timers.fireNext();
    await once(terminal, 'acknowledged');
    assert.equal(server.uploads().length, 2);
  });

  test('malformed lines are appended to the next upload only, after the records', async (t) => {
    const server = await startServer(t);
    const { terminal } = startTerminal(t, server.url);
    await terminal.start();
    terminal.faults.injectMalformedLines(['garbage', '7\tnot-a-time\t0\t1']);
    terminal.punch('5', 15, 0, new Date(2024, 2, 1, 9, 0, 0));
    await once(terminal, 'acknowledged');
    terminal.punch('6', 15, 0, new Date(2024, 2, 1, 9, 0, 1));
    await once(terminal, 'acknowledged');
    const [first, second] = server.uploads();
    assert.deepEqual(first!.body.split('\n'), ['5\t2024-03-01 09:00:00\t0\t15\t0\t0\t0', 'garbage', '7\tnot-a-time\t0\t1', '']);
    assert.equal(second!.body, '6\t2024-03-01 09:00:01\t0\t15\t0\t0\t0\n');
  });

  test('uploads end their lines with CR LF when configured to', async (t) => {
    const server = await startServer(t);
    const { terminal } = startTerminal(t, server.url, { lineEnding: '\r\n' });
    await terminal.start();
    terminal.punch('5', 15, 0, new Date(2024, 2, 1, 9, 0, 0));
    await once(terminal, 'acknowledged');
    assert.equal(server.uploads()[0]!.body, '5\t2024-03-01 09:00:00\t0\t15\t0\t0\t0\r\n');
  });

  test('commands from a poll are run in order and their results posted in one body', async (t) => {
    const commands = pushExchange('answered with three commands');
    const server = await startServer(t, (request) => (request.path === '/iclock/getrequest' ? commands.response : undefined));
    const { terminal, timers } = startTerminal(t, server.url);
    await terminal.start();
    terminal.punch('5', 15);
    await once(terminal, 'acknowledged');
    timers.fireNext();
    await once(terminal, 'resultsPosted');
    assert.deepEqual(
      terminal.executed.map(({ id, command, returnCode }) => [id, command.split(' ')[0], returnCode]),
      [
        ['101', 'DATA', 0],
        ['107', 'REBOOT', 0],
        ['108', 'CLEAR', 0],
      ],
    );
    assert.equal(terminal.users.get('1')?.Name, 'John');
    assert.equal(terminal.logSize, 0, 'CLEAR LOG emptied the log');
    const post = server.seen.find((request) => request.path === '/iclock/devicecmd')!;
    assert.deepEqual(post.query, { SN: SERIAL });
    assert.equal(post.body, 'ID=101&Return=0&CMD=DATA\nID=107&Return=0&CMD=REBOOT\nID=108&Return=0&CMD=CLEAR_LOG\n');
    await waitFor(() => timers.scheduled === 1, { message: 'the next poll scheduled' });
    assert.deepEqual(timers.delays, [10_000], 'the next poll is due after Delay');
  });

  test('an unknown command is answered "not supported", and a newer behaviour overrides a default', async (t) => {
    const server = await startServer(t, (request) => (request.path === '/iclock/getrequest' ? { status: 200, body: 'C:1:SHELL ls\nC:2:REBOOT' } : undefined));
    const { terminal, timers } = startTerminal(t, server.url);
    terminal.defineBehavior({ execute: (command) => (command === 'REBOOT' ? { returnCode: -1005, cmd: 'REBOOT' } : undefined) });
    await terminal.start();
    timers.fireNext();
    await once(terminal, 'resultsPosted');
    assert.deepEqual(
      terminal.executed.map((command) => command.returnCode),
      [RETURN.unsupported, -1005],
    );
  });

  test('an INFO command answers with Key=Value lines after its result', async (t) => {
    const server = await startServer(t, (request) => (request.path === '/iclock/getrequest' ? { status: 200, body: 'C:9:INFO' } : undefined));
    const { terminal, timers } = startTerminal(t, server.url);
    await terminal.start();
    timers.fireNext();
    await once(terminal, 'resultsPosted');
    assert.equal(server.seen.find((request) => request.path === '/iclock/devicecmd')!.body, `ID=9&Return=0&CMD=INFO\n~SerialNumber=${SERIAL}\nUserCount=0\nTransactionCount=0\n`);
  });

  test('with dropCommandResults armed, commands run but no result is posted', async (t) => {
    const server = await startServer(t, (request) => (request.path === '/iclock/getrequest' ? { status: 200, body: 'C:3:REBOOT' } : undefined));
    const { terminal, timers } = startTerminal(t, server.url);
    terminal.faults.dropCommandResults();
    await terminal.start();
    timers.fireNext();
    await once(terminal, 'commandExecuted');
    await waitFor(() => timers.scheduled === 1, { message: 'the next poll scheduled' });
    assert.equal(server.seen.filter((request) => request.path === '/iclock/devicecmd').length, 0);
  });

  test('a failed poll is tried again after ErrorDelay instead of Delay', async (t) => {
    const server = await startServer(t, (request) => (request.path === '/iclock/getrequest' ? { status: 503, body: 'FAIL' } : undefined));
    const { terminal, timers } = startTerminal(t, server.url);
    await terminal.start();
    timers.fireNext();
    await once(terminal, 'requestFailed');
    await waitFor(() => timers.scheduled === 1, { message: 'the next poll scheduled' });
    assert.deepEqual(timers.delays, [30_000]);
  });
});
