import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, sign, X509Certificate } from 'node:crypto';
import { renewalSigningInput, type IssuedCertificate } from '../../protocol/index.js';
import { startTestHub } from '../../test/support/hub.js';
import { enrollRaw, enrollTestAgent, foreignCaCertificate, issueToken, testKeys, weakCsr } from '../../test/support/pki.js';
import { createCsr } from './x509.js';

test('an enrollment token works exactly once, also when several requests race with it', async (t) => {
  const hub = await startTestHub(t);
  const issued = await issueToken(hub, { campusId: 'north' });
  const ca = new X509Certificate(hub.pki.caCertificatePem);
  assert.equal(issued.caFingerprint, createHash('sha256').update(ca.raw).digest('hex'));
  const { rows } = await hub.db.query<{ token_hash: Buffer }>('select token_hash from pki_enrollment_tokens');
  assert.equal(rows.length, 1);
  assert.ok(!rows[0]!.token_hash.toString('utf8').includes(issued.token), 'only a hash is stored');
  assert.deepEqual(Buffer.from(rows[0]!.token_hash), createHash('sha256').update(issued.token).digest());

  const csrPem = createCsr(testKeys('race'), 'x');
  const answers = await Promise.all(Array.from({ length: 8 }, (_, index) => enrollRaw(hub, { token: issued.token, agentId: `racer-${index}`, csrPem })));
  const statuses = answers.map((answer) => answer.status).sort();
  assert.deepEqual(statuses, [201, 401, 401, 401, 401, 401, 401, 401]);
  const winner = answers.find((answer) => answer.status === 201)!;
  const certificate = (await winner.json()) as IssuedCertificate;
  const x509 = new X509Certificate(certificate.certificatePem);
  assert.match(x509.subject, /CN=north\/racer-\d/);
  assert.match(x509.subject, /OU=north/);
  assert.ok(x509.checkIssued(ca) && x509.verify(ca.publicKey));
  const days = (Date.parse(certificate.notAfter) - Date.now()) / 86_400_000;
  assert.ok(days > 29 && days <= 30, `30-day certificate, got ${days}`);
  const audit = await hub.db.query<{ actor: string; action: string; target: string }>('select actor, action, target from audit_log order by id');
  assert.deepEqual(audit.rows.map((row) => row.action), ['pki.enrollment-token.issue', 'pki.certificate.issue']);
  assert.equal(audit.rows[1]!.actor, `enrollment-token:${issued.tokenId}`);
  const loser = answers.find((answer) => answer.status === 401)!;
  assert.deepEqual(await loser.json(), { error: 'invalid_token', message: 'the enrollment token is unknown, used or expired', details: null });
});

test('unknown and expired tokens get the same 401; weak keys, broken CSRs and a token bound to another agent are refused', async (t) => {
  const hub = await startTestHub(t);
  const csrPem = createCsr(testKeys('a'), 'x');
  const unknown = await enrollRaw(hub, { token: 'cht_not-a-token-at-all', agentId: 'a1', csrPem });
  const expired = await issueToken(hub, { campusId: 'north' });
  await hub.db.query(`update pki_enrollment_tokens set expires_at = now() - interval '1 second'`);
  const late = await enrollRaw(hub, { token: expired.token, agentId: 'a1', csrPem });
  assert.equal(unknown.status, 401);
  assert.equal(late.status, 401);
  assert.deepEqual(await unknown.json(), await late.json());

  const fresh = await issueToken(hub, { campusId: 'north', agentId: 'only-me' });
  const weak = await enrollRaw(hub, { token: fresh.token, agentId: 'only-me', csrPem: weakCsr() });
  assert.equal(weak.status, 400);
  assert.equal(((await weak.json()) as { error: string }).error, 'weak_key');
  // One bit of the signature flipped: the request no longer verifies.
  const der = Buffer.from(csrPem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
  der[der.length - 1]! ^= 0x01;
  const forgedPem = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE REQUEST-----\n`;
  const tampered = await enrollRaw(hub, { token: fresh.token, agentId: 'only-me', csrPem: forgedPem });
  assert.equal(tampered.status, 400);
  const other = await enrollRaw(hub, { token: fresh.token, agentId: 'someone-else', csrPem });
  assert.equal(other.status, 403);
  // The refused attempts did not use the token up.
  assert.equal((await enrollRaw(hub, { token: fresh.token, agentId: 'only-me', csrPem })).status, 201);
  const unauthenticated = await fetch(`${hub.httpUrl}/api/v1/pki/enrollment-tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"campusId":"x"}' });
  assert.equal(unauthenticated.status, 401);
});

test('renewal needs a valid, unrevoked certificate of this CA and a signature by its key', async (t) => {
  const hub = await startTestHub(t);
  const agent = await enrollTestAgent(hub, { campusId: 'north', agentId: 'renewer' });
  const newKeys = testKeys('renewed');
  const renew = (certificatePem: string, keyPem: string, signedAt = new Date().toISOString()) => {
    const csrPem = createCsr(newKeys, 'x');
    const signature = sign('sha256', renewalSigningInput(signedAt, csrPem), keyPem).toString('base64');
    return fetch(`${hub.httpUrl}/api/v1/pki/renew`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ certificatePem, csrPem, signedAt, signature }) });
  };
  const ok = await renew(agent.certificatePem, agent.keyPem);
  assert.equal(ok.status, 201);
  const renewed = (await ok.json()) as IssuedCertificate;
  assert.match(new X509Certificate(renewed.certificatePem).subject, /CN=north\/renewer/);
  assert.notEqual(renewed.serial, agent.serial);

  assert.equal((await renew(agent.certificatePem, testKeys('thief').privateKeyPem)).status, 401, 'signature by another key');
  assert.equal((await renew(agent.certificatePem, agent.keyPem, new Date(Date.now() - 3_600_000).toISOString())).status, 401, 'stale signature');
  const foreign = foreignCaCertificate('north/renewer', testKeys('north/renewer'));
  assert.equal((await renew(foreign.certificatePem, agent.keyPem)).status, 401, 'foreign CA');
  const now = Date.now();
  const expired = hub.pki.signUnrecorded({ publicKeyPem: testKeys('north/renewer').publicKeyPem, commonName: 'north/renewer', notBefore: new Date(now - 10 * 86_400_000), notAfter: new Date(now - 86_400_000) });
  assert.equal((await renew(expired, agent.keyPem)).status, 401, 'expired');

  const revoke = await hub.api(`/api/v1/pki/certificates/${agent.serial}/revoke`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'stolen' }) });
  assert.equal(revoke.status, 200);
  assert.equal((await renew(agent.certificatePem, agent.keyPem)).status, 401, 'revoked');
  const again = await hub.api(`/api/v1/pki/certificates/${agent.serial}/revoke`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'twice' }) });
  assert.equal(again.status, 409);

  const actions = await hub.db.query<{ action: string; actor: string; reason: string | null }>('select action, actor, reason from audit_log order by id');
  assert.deepEqual(
    actions.rows.map((row) => row.action),
    ['pki.enrollment-token.issue', 'pki.certificate.issue', 'pki.certificate.renew', 'pki.certificate.revoke'],
  );
  assert.equal(actions.rows[2]!.actor, 'agent:north/renewer');
  assert.equal(actions.rows[3]!.reason, 'stolen');
});

test('the certificate list pages newest first and shows revocations', async (t) => {
  const hub = await startTestHub(t);
  const agents = [];
  for (const agentId of ['p1', 'p2', 'p3']) agents.push(await enrollTestAgent(hub, { campusId: 'south', agentId }));
  await hub.api(`/api/v1/pki/certificates/${agents[0]!.serial}/revoke`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"reason":"retired"}' });
  const first = (await (await hub.api('/api/v1/pki/certificates?limit=2&campusId=south')).json()) as { items: { agentId: string; revokedAt: string | null }[]; nextCursor: string | null };
  assert.deepEqual(first.items.map((item) => item.agentId), ['p3', 'p2']);
  assert.ok(first.nextCursor);
  const second = (await (await hub.api(`/api/v1/pki/certificates?limit=2&campusId=south&cursor=${first.nextCursor}`)).json()) as typeof first;
  assert.deepEqual(second.items.map((item) => item.agentId), ['p1']);
  assert.ok(second.items[0]!.revokedAt);
  assert.equal(second.nextCursor, null);
  const ca = (await (await fetch(`${hub.httpUrl}/api/v1/pki/ca`)).json()) as { caFingerprint: string };
  assert.equal(ca.caFingerprint, hub.pki.caFingerprint);
});
