import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { spawnCampushub } from '../support/processes.js';
import { tempDir } from '../support/tempDir.js';
import { waitFor } from '../support/wait.js';

test('the demo shows taps at GET /api/v1/events within 10 seconds, on other ports when the preferred ones are taken, and stops cleanly', async (t) => {
  // Occupy the ports the demo prefers, as an installed Mosquitto or another server would.
  const blockers = [createServer(), createServer()];
  for (const blocker of blockers) {
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
  }
  t.after(() => blockers.forEach((blocker) => blocker.close()));
  const [takenHttp, takenMqtt] = blockers.map((blocker) => (blocker.address() as { port: number }).port);

  const demo = spawnCampushub(['demo', '--data-dir', tempDir(t, 'demo'), '--http-port', String(takenHttp), '--mqtt-port', String(takenMqtt), '--interval-ms', '200']);
  t.after(() => demo.kill());
  const ready = (await demo.ready) as { httpUrl: string; mqttUrl: string; adminToken: string };
  const started = Date.now();
  assert.notEqual(new URL(ready.httpUrl).port, String(takenHttp));
  assert.notEqual(new URL(ready.mqttUrl).port, String(takenMqtt));
  assert.match(demo.output(), /Admin token/);

  const items = await waitFor(
    async () => {
      const response = await fetch(`${ready.httpUrl}/api/v1/events?limit=5`, { headers: { authorization: `Bearer ${ready.adminToken}` } });
      const page = (await response.json()) as { items: { deviceId: string; method: string }[] };
      return page.items.length > 0 ? page.items : null;
    },
    { timeoutMs: 10_000, message: 'taps in the demo hub' },
  );
  assert.ok(Date.now() - started < 10_000);
  assert.equal(items[0]!.deviceId, 'door-101');
  assert.equal(items[0]!.method, 'qr');

  // The taps land in a real session: the demo room's open session has students marked present.
  const headers = { authorization: `Bearer ${ready.adminToken}` };
  const open = (await (await fetch(`${ready.httpUrl}/api/v1/sessions?state=open&roomId=R101`, { headers })).json()) as { items: { id: string }[] };
  assert.equal(open.items.length, 1, 'one open session in the demo room');
  const marked = await waitFor(
    async () => {
      const roll = (await (await fetch(`${ready.httpUrl}/api/v1/sessions/${open.items[0]!.id}/records`, { headers })).json()) as { items: { status: string }[] };
      const present = roll.items.filter((item) => item.status === 'present' || item.status === 'late');
      return present.length > 0 ? present : null;
    },
    { timeoutMs: 10_000, message: 'students marked in the open session' },
  );
  assert.ok(marked.length > 0);
  const unmatched = (await (await fetch(`${ready.httpUrl}/api/v1/unmatched-taps`, { headers })).json()) as { items: unknown[] };
  assert.deepEqual(unmatched.items, [], 'no demo tap is left unmatched');
  assert.equal(await demo.stop(), 0, 'SIGTERM stops everything and exits 0');
});
