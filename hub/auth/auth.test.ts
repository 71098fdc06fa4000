import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { hubDefaults } from '../config.js';
import { createPasswordHasher } from './passwords.js';
import { DEFAULT_THROTTLE_LIMITS } from './throttle.js';
import { startTestHub, type TestHub } from '../../test/support/hub.js';
import { createTestUser, signIn } from '../../test/support/users.js';

const START = Date.parse('2026-11-25T09:00:00Z');

async function hubWithClock(t: TestContext, overrides: Parameters<typeof startTestHub>[1] = {}) {
  const clock = { now: START };
  const hub = await startTestHub(t, overrides, { now: () => clock.now });
  return { hub, clock };
}

async function refresh(hub: TestHub, refreshToken: string): Promise<Response> {
  return fetch(`${hub.httpUrl}/api/v1/auth/refresh`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ refreshToken }),
  });
}

async function auditActions(hub: TestHub): Promise<{ action: string; outcome: string; target: string | null }[]> {
  const { rows } = await hub.db.query<{ action: string; outcome: string; target: string | null }>('select action, outcome, target from audit_log order by id');
  return rows;
}

test('sign-in returns a 15-minute access token and a refresh token; the access token works until it expires', async (t) => {
  const { hub, clock } = await hubWithClock(t);
  const student = await createTestUser(hub, { role: 'student' });
  const response = await signIn(hub, student.username, student.password);
  assert.equal(response.status, 200);
  const tokens = (await response.json()) as { accessToken: string; expiresIn: number; refreshToken: string; tokenType: string };
  assert.equal(tokens.expiresIn, 900);
  assert.equal(tokens.tokenType, 'Bearer');
  const me = await fetch(`${hub.httpUrl}/api/v1/auth/me`, { headers: { authorization: `Bearer ${tokens.accessToken}` } });
  assert.equal(me.status, 200);
  assert.equal(((await me.json()) as { id: string }).id, student.id);
  clock.now += 16 * 60_000;
  const expired = await fetch(`${hub.httpUrl}/api/v1/auth/me`, { headers: { authorization: `Bearer ${tokens.accessToken}` } });
  assert.equal(expired.status, 401);
  assert.match(((await expired.json()) as { message: string }).message, /expired/);
  assert.ok((await auditActions(hub)).some((entry) => entry.action === 'auth.login' && entry.outcome === 'success' && entry.target === `user:${student.id}`));
});

test('an alg:none token and a token with a forged role are refused over HTTP', async (t) => {
  const { hub } = await hubWithClock(t);
  const student = await createTestUser(hub, { role: 'student' });
  const [, payload] = student.accessToken.split('.');
  const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${payload}.`;
  const response = await fetch(`${hub.httpUrl}/api/v1/auth/me`, { headers: { authorization: `Bearer ${none}` } });
  assert.equal(response.status, 401);
  assert.match(((await response.json()) as { message: string }).message, /algorithm none is not allowed/);
});

test('refresh tokens rotate: each works once, and the new pair works', async (t) => {
  const { hub } = await hubWithClock(t);
  const user = await createTestUser(hub, { role: 'faculty' });
  const first = await refresh(hub, user.refreshToken);
  assert.equal(first.status, 200);
  const pair = (await first.json()) as { accessToken: string; refreshToken: string };
  assert.notEqual(pair.refreshToken, user.refreshToken);
  const me = await fetch(`${hub.httpUrl}/api/v1/auth/me`, { headers: { authorization: `Bearer ${pair.accessToken}` } });
  assert.equal(me.status, 200);
  assert.equal((await refresh(hub, pair.refreshToken)).status, 200);
});

test('of 100 parallel refreshes with one token exactly one succeeds, and the reuse revokes the family', async (t) => {
  const { hub } = await hubWithClock(t);
  const user = await createTestUser(hub, { role: 'student' });
  const responses = await Promise.all(Array.from({ length: 100 }, () => refresh(hub, user.refreshToken)));
  const ok = responses.filter((response) => response.status === 200);
  assert.equal(ok.length, 1);
  assert.ok(responses.every((response) => response.status === 200 || response.status === 401));
  const winner = (await ok[0]!.json()) as { refreshToken: string };
  // The other 99 were reuse: the whole sign-in is revoked, including the winner's successor.
  const successor = await refresh(hub, winner.refreshToken);
  assert.equal(successor.status, 401);
  assert.equal(((await successor.json()) as { error: string }).error, 'invalid_refresh_token');
});

test('replaying a used refresh token revokes its whole family and writes an audit entry', async (t) => {
  const { hub } = await hubWithClock(t);
  const user = await createTestUser(hub, { role: 'student' });
  const other = await signIn(hub, user.username, user.password);
  const otherSession = (await other.json()) as { refreshToken: string };
  const rotated = (await (await refresh(hub, user.refreshToken)).json()) as { refreshToken: string };
  const replay = await refresh(hub, user.refreshToken);
  assert.equal(replay.status, 401);
  assert.equal(((await replay.json()) as { error: string }).error, 'refresh_token_reused');
  assert.equal((await refresh(hub, rotated.refreshToken)).status, 401, 'the family is revoked');
  assert.equal((await refresh(hub, otherSession.refreshToken)).status, 200, 'another sign-in of the same user is untouched');
  const reuse = (await auditActions(hub)).filter((entry) => entry.action === 'auth.refresh.reuse');
  assert.equal(reuse.length, 1);
  assert.equal(reuse[0]!.target, `user:${user.id}`);
});

test('a sign-in ends at its absolute lifetime however often it was refreshed', async (t) => {
  const { hub, clock } = await hubWithClock(t);
  const user = await createTestUser(hub, { role: 'student' });
  let token = user.refreshToken;
  for (let week = 1; week <= 4; week++) {
    clock.now += 7 * 86_400_000;
    const response = await refresh(hub, token);
    assert.equal(response.status, 200);
    token = ((await response.json()) as { refreshToken: string }).refreshToken;
  }
  clock.now = START + 30 * 86_400_000 + 1;
  const late = await refresh(hub, token);
  assert.equal(late.status, 401);
  assert.match(((await late.json()) as { message: string }).message, /expired/);
});

test('logout ends one sign-in; logout-everywhere ends all of them and refuses live access tokens at once', async (t) => {
  const { hub } = await hubWithClock(t);
  const user = await createTestUser(hub, { role: 'hod', departmentId: 'cs' });
  const second = (await (await signIn(hub, user.username, user.password)).json()) as { accessToken: string; refreshToken: string };
  const logout = await fetch(`${hub.httpUrl}/api/v1/auth/logout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ refreshToken: second.refreshToken }),
  });
  assert.equal(logout.status, 204);
  assert.equal((await refresh(hub, second.refreshToken)).status, 401);
  const everywhere = await user.api('/api/v1/auth/logout-everywhere', { method: 'POST' });
  assert.equal(everywhere.status, 200);
  assert.equal(((await everywhere.json()) as { revokedSignIns: number }).revokedSignIns, 1);
  assert.equal((await user.api('/api/v1/auth/me')).status, 401, 'the access token is refused before it expires');
  assert.equal((await refresh(hub, user.refreshToken)).status, 401);
  const actions = (await auditActions(hub)).map((entry) => entry.action);
  assert.ok(actions.includes('auth.logout') && actions.includes('auth.logout-everywhere'));
});

test('an unknown user and a wrong password get identical answers, and each costs one password verification', async (t) => {
  const { hub } = await hubWithClock(t);
  const user = await createTestUser(hub, { role: 'student' });
  const verifications = async () => hub.metric('campushub_auth_password_verifications_total');
  let before = await verifications();
  const wrong = await signIn(hub, user.username, 'not the password at all');
  assert.equal((await verifications()) - before, 1);
  before = await verifications();
  const unknown = await signIn(hub, 'nobody-by-this-name', 'not the password at all');
  assert.equal((await verifications()) - before, 1);
  assert.equal(wrong.status, 401);
  assert.equal(unknown.status, 401);
  assert.deepEqual(await wrong.json(), await unknown.json());
  const headers = (response: Response) => [...response.headers].filter(([name]) => !['date', 'x-ratelimit-remaining', 'x-ratelimit-reset'].includes(name));
  assert.deepEqual(headers(wrong), headers(unknown));
});

test('repeated failures back off per account, with a cap, and never lock the account for good', async (t) => {
  const { hub, clock } = await hubWithClock(t);
  const user = await createTestUser(hub, { role: 'student' });
  for (let attempt = 1; attempt <= 5; attempt++) assert.equal((await signIn(hub, user.username, 'wrong password here')).status, 401);
  // The sixth attempt must wait 1 s, even with the right password; an unknown name behaves the same.
  const blocked = await signIn(hub, user.username, user.password);
  assert.equal(blocked.status, 429);
  assert.equal(blocked.headers.get('retry-after'), '1');
  for (let attempt = 1; attempt <= 5; attempt++) await signIn(hub, 'ghost-user', 'wrong password here');
  assert.equal((await signIn(hub, 'ghost-user', 'wrong password here')).status, 429);
  clock.now += 1_000;
  assert.equal((await signIn(hub, user.username, 'wrong password here')).status, 401);
  const doubled = await signIn(hub, user.username, user.password);
  assert.equal(doubled.headers.get('retry-after'), '2');
  // Many more failures: the wait grows but never beyond the 15-minute cap.
  for (let attempt = 0; attempt < 12; attempt++) {
    clock.now += 16 * 60_000;
    await signIn(hub, user.username, 'wrong password here');
  }
  const capped = await signIn(hub, user.username, user.password);
  assert.equal(capped.status, 429);
  assert.ok(Number(capped.headers.get('retry-after')) <= 900);
  clock.now += 15 * 60_000;
  assert.equal((await signIn(hub, user.username, user.password)).status, 200, 'the owner gets in once the wait is over');
  assert.equal((await signIn(hub, user.username, 'wrong password here')).status, 401, 'success reset the count');
});

test('one address failing across many accounts is throttled as a whole', async (t) => {
  const { hub, clock } = await hubWithClock(t, {
    auth: { ...hubDefaults().auth, throttle: { ...DEFAULT_THROTTLE_LIMITS, ipMaxFailures: 4 } },
  });
  for (let account = 0; account < 4; account++) assert.equal((await signIn(hub, `user-${account}`, 'wrong password here')).status, 401);
  const blocked = await signIn(hub, 'user-99', 'wrong password here');
  assert.equal(blocked.status, 429);
  assert.ok(Number(blocked.headers.get('retry-after')) > 0);
  clock.now += 15 * 60_000 + 1;
  assert.equal((await signIn(hub, 'user-99', 'wrong password here')).status, 401);
});

test('a hash made with weaker parameters is redone at the next sign-in', async (t) => {
  const { hub } = await hubWithClock(t);
  const user = await createTestUser(hub, { role: 'student' });
  const weak = await createPasswordHasher({ memoryKiB: 8_192, iterations: 1, parallelism: 1 });
  await hub.db.query('update users set password_hash = $2 where id = $1', [user.id, await weak.hash(user.password)]);
  assert.equal((await signIn(hub, user.username, user.password)).status, 200);
  const { rows } = await hub.db.query<{ password_hash: string }>('select password_hash from users where id = $1', [user.id]);
  assert.match(rows[0]!.password_hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
});

test('weak and common passwords are refused with a reason; long passphrases are accepted', async (t) => {
  const { hub } = await hubWithClock(t);
  const create = (password: string, username: string) =>
    hub.api('/api/v1/users', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, displayName: 'P', role: 'student', password }),
    });
  const short = await create('abc123', 'short-pw');
  assert.equal(short.status, 400);
  assert.match(((await short.json()) as { message: string }).message, /at least 8/);
  const common = await create('password1', 'common-pw');
  assert.equal(common.status, 400);
  assert.match(((await common.json()) as { message: string }).message, /commonly used/);
  assert.equal((await create('a river runs through the old quarry at dawn '.repeat(10), 'long-pw')).status, 201);
  assert.equal((await hub.db.query("select 1 from users where username in ('short-pw', 'common-pw')")).rowCount, 0);
});

test('API keys are shown once, stored hashed, limited to their scopes and stop at revocation', async (t) => {
  const { hub } = await hubWithClock(t);
  const issued = await hub.api('/api/v1/api-keys', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'registrar export', scopes: ['events.read'] }),
  });
  assert.equal(issued.status, 201);
  const { key, apiKey } = (await issued.json()) as { key: string; apiKey: { id: string } };
  const call = (path: string) => fetch(`${hub.httpUrl}${path}`, { headers: { authorization: `Bearer ${key}` } });
  assert.equal((await call('/api/v1/events?limit=1')).status, 200);
  assert.equal((await call('/metrics')).status, 403, 'metrics is not among its scopes');
  assert.equal((await call('/api/v1/users')).status, 403, 'the service role may never list users');
  const stored = await hub.db.query<{ key_hash: Buffer }>('select key_hash from api_keys');
  assert.ok(!stored.rows[0]!.key_hash.toString('latin1').includes(key));
  assert.ok(!JSON.stringify(await (await hub.api('/api/v1/api-keys')).json()).includes(key));
  assert.equal((await hub.api(`/api/v1/api-keys/${apiKey.id}`, { method: 'DELETE' })).status, 200);
  assert.equal((await call('/api/v1/events?limit=1')).status, 401);
  const bad = await hub.api('/api/v1/api-keys', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'too much', scopes: ['users.manage'] }),
  });
  assert.equal(bad.status, 400);
});
