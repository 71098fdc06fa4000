import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { startAgent, type Agent } from '../../agent/agent.js';
import { agentDefaults, type AgentConfig } from '../../agent/config.js';
import { signPersonalQr } from '../../protocol/index.js';
import { insertSession } from '../support/attendance.js';
import { CAMPUS_IDS, linkUser, seedSmallCampus } from '../support/campus.js';
import { startTestHub } from '../support/hub.js';
import { enrollTestAgent } from '../support/pki.js';
import { freePort } from '../support/ports.js';
import { jsonBody } from '../support/routeMatrix.js';
import { tempDir } from '../support/tempDir.js';
import { createTestUser } from '../support/users.js';
import { waitFor } from '../support/wait.js';

/** Aarav (CS, on the CS301 theory roll) is user 1001 on terminals; Rohan (EE) is 2001. */
const CS_STUDENT = CAMPUS_IDS.students[0]!;
const EE_STUDENT = CAMPUS_IDS.students[4]!;

/**
 * A running clock that reads the next 11:00 in Kolkata when the test starts:
 * never behind the real clock, which the certificate authority stamps
 * certificates with.
 */
function nextElevenInKolkata(): () => number {
  const kolkata = new Date(Date.now() + 330 * 60_000);
  let eleven = Date.UTC(kolkata.getUTCFullYear(), kolkata.getUTCMonth(), kolkata.getUTCDate(), 5, 30);
  if (eleven < Date.now()) eleven += 86_400_000;
  const offset = eleven - Date.now();
  return () => Date.now() + offset;
}

test('with the hub unreachable, a door decides on the cached roll, and refuses forged, expired and replayed personal QR codes', async (t) => {
  // The offline cache holds the campus's local day (Kolkata): the hub's clock runs from 11:00 there, whatever the hour of the run.
  const clock = nextElevenInKolkata();
  const hub = await startTestHub(t, {}, { now: clock });
  await seedSmallCampus(hub.db);
  const now = clock();
  // CS301 theory in R101 (door-101) now; EE theory in R201 (door-201) later today.
  const csSession = await insertSession(hub.db, { startsAt: now - 10 * 60_000 });
  await insertSession(hub.db, { startsAt: now + 30 * 60_000, roomId: 'R201', groups: [{ sectionId: CAMPUS_IDS.eeTheory }], state: 'scheduled' });
  const csUser = await createTestUser(hub, { role: 'student', departmentId: 'cs' });
  await linkUser(hub.db, 'student', CS_STUDENT, csUser.id);
  const unlinked = await createTestUser(hub, { role: 'student', departmentId: 'cs' });

  // The hub sends the cache to agents with a certificate of the campus.
  await enrollTestAgent(hub, { campusId: 'main', agentId: 'door-agent' });
  const dataDir = tempDir(t, 'offline-agent');
  const config: AgentConfig = { ...agentDefaults(), agentId: 'door-agent', campusId: 'main', mqttUrl: hub.mqttUrl, dataDir, devices: [], logLevel: 'silent' };
  let agent: Agent = await startAgent(config);
  t.after(() => agent.stop());
  await waitFor(async () => (await hub.db.query(`select 1 from agents where agent_id = 'door-agent' and state = 'online'`)).rows.length === 1, { message: 'the agent online' });
  const pushed = await hub.api('/api/v1/devices/offline-cache', { method: 'POST', ...jsonBody({ campusId: 'main' }) });
  assert.equal(pushed.status, 200);
  const pushedBody = (await pushed.json()) as { sessions: number; agents: { agentId: string; status: string }[] };
  assert.deepEqual([pushedBody.sessions, pushedBody.agents], [2, [{ agentId: 'door-agent', status: 'ok' }]]);

  // Personal QR codes: only a student linked to a student row gets one.
  const issue = async () => {
    const response = await csUser.api('/api/v1/me/personal-qr', { method: 'POST' });
    assert.equal(response.status, 201);
    return (await response.json()) as { code: string; expiresAt: string; ttlSeconds: number };
  };
  const [first, second] = [await issue(), await issue()];
  assert.ok(first.ttlSeconds <= 300 && Date.parse(first.expiresAt) > now);
  assert.equal(((await (await unlinked.api('/api/v1/me/personal-qr', { method: 'POST' })).json()) as { error: string }).error, 'not_enrolled');
  assert.equal((await hub.api('/api/v1/me/personal-qr', { method: 'POST' })).status, 403, 'only students: not even an admin');

  // The hub goes away; the agent restarts with no hub to reach and decides from its cache alone.
  await hub.stop();
  await agent.stop();
  agent = await startAgent({ ...config, mqttUrl: `mqtt://127.0.0.1:${await freePort()}` });
  assert.equal(agent.uplink.connected, false);
  const decide = (deviceId: string, subject: string, at = clock()) => agent.vault.offline.decide(deviceId, subject, at);

  assert.deepEqual(decide('door-101', '1001'), { accepted: true, reason: 'on_roll', message: 'welcome', studentId: CS_STUDENT, sessionId: csSession });
  assert.deepEqual([decide('door-101', '2001').accepted, decide('door-101', '2001').reason, decide('door-101', '2001').studentId], [false, 'not_on_roll', EE_STUDENT]);
  assert.deepEqual([decide('door-101', '9999').accepted, decide('door-101', '9999').reason], [false, 'unknown_subject']);
  assert.deepEqual([decide('door-201', '2001').accepted, decide('door-201', '2001').reason], [false, 'no_session'], 'the EE lecture has not begun');
  assert.equal(decide('door-201', '2001', now + 31 * 60_000).accepted, true, 'it has, half an hour on');

  const personal = decide('door-101', first.code);
  assert.deepEqual([personal.accepted, personal.reason, personal.studentId], [true, 'on_roll', CS_STUDENT]);
  assert.deepEqual([decide('door-101', first.code).accepted, decide('door-101', first.code).reason], [false, 'qr_replayed']);
  const altered = second.code.slice(0, -3) + (second.code.endsWith('AAA') ? 'BBB' : 'AAA');
  assert.equal(decide('door-101', altered).reason, 'qr_forged');
  const stranger = generateKeyPairSync('ed25519').privateKey;
  assert.equal(decide('door-101', signPersonalQr(stranger, CS_STUDENT, clock(), 60).code).reason, 'qr_forged', 'signed by another key');
  const expired = decide('door-101', second.code, Date.parse(second.expiresAt) + 1_000);
  assert.deepEqual([expired.accepted, expired.reason], [false, 'qr_expired']);
  assert.equal(decide('door-101', 'CHQ1.garbage').reason, 'qr_malformed');
  // The refused codes were not burnt: the unexpired, genuine one still works once.
  assert.equal(decide('door-101', second.code).accepted, true);
});
