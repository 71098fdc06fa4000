import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import pino from 'pino';
import { startAgent } from '../../agent/agent.js';
import { agentDefaults } from '../../agent/config.js';
import type { AgentIdentity } from '../../agent/identity.js';
import { TemplateVault, VaultError } from '../../agent/vault/index.js';
import { MockR30xModule } from '../../simulators/r30x/module.js';
import { MockZkTerminal } from '../../simulators/zk/terminal.js';
import { insertSession } from '../support/attendance.js';
import { CAMPUS_IDS, linkUser, seedSmallCampus } from '../support/campus.js';
import { startTestHub, type TestHub } from '../support/hub.js';
import { enrollTestAgent, mtlsBroker, testKeys, type TestAgentCredentials } from '../support/pki.js';
import { findPattern, scanDatabase, scanFiles } from '../support/plaintextScan.js';
import { jsonBody } from '../support/routeMatrix.js';
import { tempDir } from '../support/tempDir.js';
import { createTestUser } from '../support/users.js';
import { waitFor } from '../support/wait.js';

const STUDENT = CAMPUS_IDS.students[0]!;
/** ZK terminals know this student as user 1001 (fixtures/campus/small.ts). */
const STUDENT_DEVICE_USER = '1001';

function identityOf(hub: TestHub, credentials: TestAgentCredentials): AgentIdentity {
  const certificate = new X509Certificate(credentials.certificatePem);
  return {
    ...credentials.address,
    hubUrl: hub.httpUrl,
    keyPem: credentials.keyPem,
    certificatePem: credentials.certificatePem,
    caCertificatePem: credentials.caCertificatePem,
    serial: credentials.serial,
    notBefore: new Date(certificate.validFrom),
    notAfter: new Date(certificate.validTo),
  };
}

function marked(size: number): { bytes: Buffer; marker: Buffer } {
  const marker = Buffer.concat([Buffer.from('FMR-MARK:'), randomBytes(12)]);
  const bytes = randomBytes(size);
  marker.copy(bytes, 64);
  return { bytes, marker };
}

function logSink(lines: string[]) {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString());
      callback();
    },
  });
}

test('vault: templates reach the devices only sealed for their agent, another campus cannot open them, tampering is refused, and withdrawal clears every device', async (t) => {
  const kek = randomBytes(32);
  const keyFile = join(tempDir(t, 'vault-hub-keys'), 'keys.json');
  writeFileSync(keyFile, JSON.stringify({ active: 'k1', keys: { k1: kek.toString('base64') } }), { mode: 0o600 });
  const hub = await startTestHub(t, { broker: mtlsBroker(), keys: { keyFile } });
  await seedSmallCampus(hub.db);
  await insertSession(hub.db, { startsAt: Date.now() - 10 * 60_000 });
  const student = await createTestUser(hub, { role: 'student', departmentId: 'cs' });
  await linkUser(hub.db, 'student', STUDENT, student.id);

  const terminal = await MockZkTerminal.start({ packetGapMs: 0, eventGapMs: 0 });
  t.after(() => terminal.close());
  const module = new MockR30xModule();
  const { port: modulePort } = await module.serveTcp();
  t.after(() => module.close());

  const credentials = await enrollTestAgent(hub, { campusId: 'main', agentId: 'agent-a' });
  const dataDir = tempDir(t, 'vault-agent');
  const agentLogs: string[] = [];
  const agent = await startAgent(
    {
      ...agentDefaults(),
      agentId: 'agent-a',
      campusId: 'main',
      mqttUrl: hub.mqttUrl,
      dataDir,
      identity: identityOf(hub, credentials),
      devices: [
        { id: 'door-101', kind: 'zk', url: terminal.url('tcp') },
        { id: 'door-lab1', kind: 'r30x', url: `tcp://127.0.0.1:${modulePort}?poll=50` },
      ],
      logLevel: 'debug',
    },
    pino({ level: 'debug' }, logSink(agentLogs)),
  );
  t.after(() => agent.stop());
  await waitFor(async () => (await hub.db.query(`select 1 from agents where agent_id = 'agent-a' and state = 'online'`)).rows.length === 1, { message: 'agent-a online at the hub' });
  await waitFor(() => agent.devices.health().every((device) => device.state === 'ready'), { message: 'both devices ready' });

  // The student consents; an administrator enrolls two fingers, one for each device family.
  assert.equal((await student.api(`/api/v1/students/${STUDENT}/biometric-consent/grant`, { method: 'POST', ...jsonBody({}) })).status, 200);
  const zkTemplate = marked(600);
  const moduleTemplate = marked(512);
  const enroll = async (finger: number, format: string, bytes: Buffer) => {
    const response = await hub.api(`/api/v1/students/${STUDENT}/templates`, { method: 'POST', ...jsonBody({ finger, format, quality: 80, template: bytes.toString('base64') }) });
    assert.equal(response.status, 201, await response.clone().text());
    return ((await response.json()) as { id: string }).id;
  };
  const zkId = await enroll(1, 'zk-bio10', zkTemplate.bytes);
  const moduleId = await enroll(2, 'r30x-char', moduleTemplate.bytes);
  // An EE student with consent and a template, but no session on this campus now: not sent.
  const eeStudent = CAMPUS_IDS.students[4]!;
  assert.equal((await hub.api(`/api/v1/students/${eeStudent}/biometric-consent/grant`, { method: 'POST', ...jsonBody({}) })).status, 200);
  assert.equal((await hub.api(`/api/v1/students/${eeStudent}/templates`, { method: 'POST', ...jsonBody({ finger: 1, format: 'zk-bio10', template: randomBytes(600).toString('base64') }) })).status, 201);

  const distribute = async () => {
    const response = await hub.api('/api/v1/templates/distribute', { method: 'POST', ...jsonBody({ campusId: 'main' }) });
    const report = (await response.json()) as { agents: { agentId: string; status: string; sent: number; stored: number; refused: number }[] };
    return report.agents.map(({ agentId, status, sent, stored, refused }) => [agentId, status, sent, stored, refused]);
  };
  assert.deepEqual(await distribute(), [['agent-a', 'ok', 2, 2, 0]]);
  assert.deepEqual(await distribute(), [['agent-a', 'ok', 0, 0, 0]], 'what the agent holds is not sent again');

  // On the devices, in the clear, as the devices need them.
  const zkUser = [...terminal.users.values()].find((user) => user.userId === STUDENT_DEVICE_USER);
  assert.ok(zkUser, 'the terminal has the student as a user');
  assert.deepEqual(terminal.templates.filter((template) => template.uid === zkUser.uid).map((template) => [template.finger, Buffer.compare(template.data, zkTemplate.bytes)]), [[1, 0]]);
  assert.deepEqual([...module.state.library.values()].map((bytes) => Buffer.compare(bytes, moduleTemplate.bytes)), [0]);
  const slot = [...module.state.library.keys()][0]!;
  assert.equal(agent.vault.vault!.studentAtSlot('door-lab1', slot), STUDENT);
  assert.deepEqual(agent.vault.vault!.entries().map((entry) => entry.studentId), [STUDENT, STUDENT], 'only the student with a session here');
  const sync = (await (await hub.api(`/api/v1/templates/${zkId}/sync`)).json()) as { agents: { state: string }[]; devices: { deviceId: string; state: string }[] };
  assert.deepEqual([sync.agents.map((row) => row.state), sync.devices.map((row) => [row.deviceId, row.state])], [['stored'], [['door-101', 'present']]]);

  // Nowhere in the clear at rest or in transit records: agent files (vault, outbox, WAL), hub database, logs, API answers.
  assert.deepEqual(await scanDatabase(hub.db, zkTemplate.marker, moduleTemplate.marker), []);
  for (const { marker } of [zkTemplate, moduleTemplate]) {
    assert.deepEqual(scanFiles(dataDir, marker), []);
    assert.deepEqual(findPattern('hub logs', JSON.stringify(hub.logs), marker), []);
    assert.deepEqual(findPattern('agent logs', agentLogs.join(''), marker), []);
    assert.deepEqual(findPattern('sync answer', JSON.stringify(sync), marker), []);
  }
  // The hub's KEK is in no agent file, in any spelling.
  assert.deepEqual(scanFiles(dataDir, kek), []);

  // An agent of another campus: the hub sends it nothing (no sessions there), and campus A's envelope does not open with its key.
  const north = await enrollTestAgent(hub, { campusId: 'north', agentId: 'agent-b' }, testKeys('north/agent-b'));
  const vaultRow = new Database(join(dataDir, 'vault.sqlite'), { readonly: true })
    .prepare<[string], { envelope: Buffer }>('select envelope from templates where template_id = ?')
    .get(zkId)!;
  const delivery = { templateId: zkId, studentId: STUDENT, deviceUserId: STUDENT_DEVICE_USER, finger: 1, format: 'zk-bio10', envelope: vaultRow.envelope.toString('base64') };
  const northVault = new TemplateVault(tempDir(t, 'north-vault'), north.keyPem);
  t.after(() => northVault.close());
  assert.throws(() => northVault.put(delivery), (error: unknown) => error instanceof VaultError && error.code === 'wrong_key' && /not sealed for this agent's key/.test(error.message));
  assert.equal(northVault.entries().length, 0);

  // A tampered ciphertext is refused by its own agent, with a clear error, and nothing is stored.
  const tampered = Buffer.from(vaultRow.envelope);
  tampered[tampered.length - 5]! ^= 0x01;
  const put = await agent.vault.templates!.put([{ ...delivery, envelope: tampered.toString('base64') }]);
  assert.equal(put.stored.length, 0);
  assert.match(put.refused[0]!.reason, /^tampered: template .* failed to open: envelope authentication failed: the ciphertext was altered/);
  const moved = await agent.vault.templates!.put([{ ...delivery, finger: 7 }]);
  assert.match(moved.refused[0]!.reason, /^tampered: .*failed to (open|unwrap)/, 'an envelope moved to another finger fails its AAD');
  assert.equal(agent.vault.vault!.open(zkId).compare(zkTemplate.bytes), 0, 'the good copy is still there');
  assert.deepEqual(agent.vault.vault!.integrityCheck().unreadable, []);

  // A renewed agent key: the envelopes sealed for the old key no longer open, and the hub, seeing the new certificate, sends them again.
  await agent.renewNow();
  await waitFor(() => agent.uplink.connected, { message: 'the agent back with its renewed certificate' });
  assert.deepEqual(agent.vault.vault!.integrityCheck().unreadable.map((problem) => problem.code), ['wrong_key', 'wrong_key']);
  assert.deepEqual(await distribute(), [['agent-a', 'ok', 2, 2, 0]]);
  assert.deepEqual(agent.vault.vault!.integrityCheck().unreadable, []);

  // Withdrawal: the hub shreds the templates and tells the agent, which clears its vault and both devices; the hub learns it is done.
  const withdrawn = await student.api(`/api/v1/students/${STUDENT}/biometric-consent/withdraw`, { method: 'POST', ...jsonBody({ reason: 'changed my mind' }) });
  assert.equal(withdrawn.status, 200);
  const confirmed = await waitFor(
    async () => {
      const consent = (await (await student.api(`/api/v1/students/${STUDENT}/biometric-consent`)).json()) as { removal: { confirmedAt: string | null; pendingAgents: number; devicesHolding: number } };
      return consent.removal.confirmedAt ? consent.removal : null;
    },
    { message: 'the withdrawal confirmed by every agent' },
  );
  assert.deepEqual([confirmed.pendingAgents, confirmed.devicesHolding], [0, 0]);
  assert.deepEqual(terminal.templates.filter((template) => template.uid === zkUser.uid), []);
  assert.equal(module.state.library.size, 0);
  assert.deepEqual(agent.vault.vault!.entries(), []);
  assert.equal(agent.vault.vault!.studentAtSlot('door-lab1', slot), undefined);
  const after = (await (await hub.api(`/api/v1/templates/${moduleId}/sync`)).json()) as { agents: { state: string }[]; devices: { state: string }[] };
  assert.deepEqual([after.agents.map((row) => row.state), after.devices.map((row) => row.state)], [['removed'], ['removed']]);
  const audit = await hub.db.query<{ action: string }>(`select action from audit_log where action like 'consent.%' or action like 'templates.%' order by id`);
  assert.deepEqual(audit.rows.map((row) => row.action), [
    'consent.grant',
    'templates.enroll',
    'templates.enroll',
    'consent.grant',
    'templates.enroll',
    'templates.distribute',
    'templates.distribute',
    'consent.withdraw',
    'templates.remove',
    'consent.removal_confirmed',
  ]);
  assert.deepEqual(scanFiles(dataDir, zkTemplate.marker), []);
  assert.equal(readFileSync(join(dataDir, 'vault.sqlite')).includes(vaultRow.envelope.subarray(-40)), false, 'secure_delete overwrote the removed envelope');
});
