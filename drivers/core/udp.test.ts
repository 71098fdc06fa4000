import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { test, type TestContext } from 'node:test';
import type { ByteLinkEvents } from './link.js';
import { createLinkFactory, UnsupportedTransportError } from './linkFactory.js';
import { parseTransportUrl } from './transportUrl.js';
import { udpLinkFactory } from './udp.js';

/** A peer on 127.0.0.1 that sends every datagram it receives back to its sender. */
async function echoPeer(t: TestContext) {
  const peer = createSocket('udp4');
  peer.on('message', (datagram, sender) => peer.send(datagram, sender.port, sender.address));
  peer.bind(0, '127.0.0.1');
  await once(peer, 'listening');
  t.after(() => peer.close());
  return { port: peer.address().port };
}

test('each datagram is one data event, in both directions', async (t) => {
  const peer = await echoPeer(t);
  const link = await createLinkFactory(parseTransportUrl(`udp://127.0.0.1:${peer.port}`), { acceptUdp: true })();
  t.after(() => link.close());
  assert.equal(link.description, `udp://127.0.0.1:${peer.port}`);
  const received: Buffer[] = [];
  link.on('data', (datagram) => received.push(datagram));
  const first = Buffer.from('first datagram');
  const second = Buffer.alloc(1500, 0x5a);
  await link.write(first);
  await link.write(second);
  while (received.length < 2) await once(link, 'data', { signal: AbortSignal.timeout(10_000) });
  assert.deepEqual(received, [first, second]);
});

test('closing the link ourselves ends it without an error, and refuses later writes', async (t) => {
  const peer = await echoPeer(t);
  const link = await udpLinkFactory({ host: '127.0.0.1', port: peer.port })();
  const closed = once(link, 'close', { signal: AbortSignal.timeout(10_000) });
  await link.close();
  assert.deepEqual(await closed, [undefined]);
  await link.close();
  await assert.rejects(link.write(Uint8Array.of(1)), /link is closed/);
});

test('a peer whose port is closed ends the link with an error', async (t) => {
  const gone = createSocket('udp4');
  gone.bind(0, '127.0.0.1');
  await once(gone, 'listening');
  const port = gone.address().port;
  await new Promise<void>((resolve) => gone.close(() => resolve()));
  const link = await udpLinkFactory({ host: '127.0.0.1', port })();
  t.after(() => link.close());
  const closed = once(link, 'close', { signal: AbortSignal.timeout(10_000) });
  await link.write(Uint8Array.of(1)).catch(() => undefined);
  const [error] = (await closed) as ByteLinkEvents['close'];
  assert.match(error?.message ?? '', /ECONNREFUSED/);
});

test('udp:// is offered only to a driver that accepts datagrams', () => {
  assert.throws(() => createLinkFactory(parseTransportUrl('udp://127.0.0.1:4370')), UnsupportedTransportError);
  assert.equal(typeof createLinkFactory(parseTransportUrl('udp://127.0.0.1:4370'), { acceptUdp: true }), 'function');
});
