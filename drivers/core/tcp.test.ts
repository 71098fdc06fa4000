import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { freePort } from '../../test/support/ports.js';
import type { ByteLinkEvents } from './link.js';
import { UnsupportedTransportError, createLinkFactory } from './linkFactory.js';
import { tcpLinkFactory } from './tcp.js';
import { parseTransportUrl } from './transportUrl.js';

/** A device on 127.0.0.1 that hands each accepted socket to the test. */
async function fakeDevice(t: TestContext) {
  const accepted: Socket[] = [];
  const server: Server = createServer((socket) => accepted.push(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const socket of accepted) socket.destroy();
    server.close();
  });
  const port = (server.address() as { port: number }).port;
  const nextSocket = async () => (accepted.at(-1) ?? ((await once(server, 'connection', { signal: AbortSignal.timeout(10_000) })) as [Socket])[0]);
  return { port, nextSocket };
}

test('bytes flow both ways over a TCP link', async (t) => {
  const device = await fakeDevice(t);
  const link = await tcpLinkFactory({ host: '127.0.0.1', port: device.port })();
  t.after(() => link.close());
  const socket = await device.nextSocket();
  const fromDevice = once(link, 'data', { signal: AbortSignal.timeout(10_000) });
  socket.write('2025CS001\r');
  assert.equal(((await fromDevice) as ByteLinkEvents['data'])[0].toString(), '2025CS001\r');
  const fromHost = once(socket, 'data', { signal: AbortSignal.timeout(10_000) });
  await link.write(Uint8Array.of(0x06));
  assert.deepEqual(((await fromHost) as [Buffer])[0], Buffer.of(0x06));
});

test('a peer that closes the connection ends the link with an error', async (t) => {
  const device = await fakeDevice(t);
  const link = await tcpLinkFactory({ host: '127.0.0.1', port: device.port })();
  const closed = once(link, 'close', { signal: AbortSignal.timeout(10_000) });
  (await device.nextSocket()).end();
  const [error] = (await closed) as ByteLinkEvents['close'];
  assert.match(error?.message ?? '', /closed by the peer/);
  await assert.rejects(link.write(Uint8Array.of(0x06)), /link is closed/);
});

test('closing the link ourselves ends it without an error', async (t) => {
  const device = await fakeDevice(t);
  const link = await tcpLinkFactory({ host: '127.0.0.1', port: device.port })();
  const closed = once(link, 'close', { signal: AbortSignal.timeout(10_000) });
  await link.close();
  assert.deepEqual(await closed, [undefined]);
});

test('a refused connection rejects the factory with the link description', async () => {
  const port = await freePort();
  const factory = createLinkFactory(parseTransportUrl(`serial+tcp://127.0.0.1:${port}`));
  await assert.rejects(factory(), new RegExp(`serial\\+tcp://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
});

test('the link description names the scheme, with IPv6 hosts in brackets', async (t) => {
  const device = await fakeDevice(t);
  const link = await createLinkFactory(parseTransportUrl(`serial+tcp://127.0.0.1:${device.port}`))();
  t.after(() => link.close());
  assert.equal(link.description, `serial+tcp://127.0.0.1:${device.port}`);
  await assert.rejects(createLinkFactory(parseTransportUrl('tcp://[::1]:1'))(), /^Error: tcp:\/\/\[::1\]:1: /);
});

test('HID and UDP URLs are refused as not supported', () => {
  assert.throws(() => createLinkFactory(parseTransportUrl('hid://0c2e:0b61')), UnsupportedTransportError);
  assert.throws(() => createLinkFactory(parseTransportUrl('udp://127.0.0.1:4370')), /udp:\/\/ is not supported by this driver/);
});
