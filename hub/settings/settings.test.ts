import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hubDefaults } from '../config.js';
import { insertSession } from '../../test/support/attendance.js';
import { CAMPUS_IDS, seedSmallCampus } from '../../test/support/campus.js';
import { startTestHub } from '../../test/support/hub.js';
import { jsonBody } from '../../test/support/routeMatrix.js';
import { createTestUser } from '../../test/support/users.js';
import { validateSettings } from './registry.js';
import { attendanceSettingsFor } from './settings.js';

const SECTION = `section:${CAMPUS_IDS.theory}`;
const GRACE = 'attendance.lateGraceMinutes';

test('settings inherit institution → campus → department → section, take effect from their date, and a null clears back to the parent', async (t) => {
  let clock = Date.parse('2026-09-01T06:00:00Z');
  const hub = await startTestHub(t, {}, { now: () => clock });
  await seedSmallCampus(hub.db);
  const put = (body: Record<string, unknown>) => hub.api('/api/v1/settings', { method: 'PUT', ...jsonBody(body) });
  const effective = async (scope: string, at?: string) => {
    const response = await hub.api(`/api/v1/settings/effective?scope=${scope}${at ? `&at=${at}` : ''}`);
    assert.equal(response.status, 200, await response.clone().text());
    const { items } = (await response.json()) as { items: { key: string; value: unknown; from: string; effectiveFrom: string | null }[] };
    return items.find((item) => item.key === GRACE)!;
  };

  assert.deepEqual(await effective(SECTION), { key: GRACE, value: 10, from: 'default', effectiveFrom: null });
  assert.equal((await put({ scope: 'institution:demo-univ', values: { [GRACE]: 8 }, reason: 'college-wide rule' })).status, 200);
  assert.equal((await put({ scope: 'department:cs', values: { [GRACE]: 12 }, reason: 'CS buses arrive late' })).status, 200);
  assert.equal((await put({ scope: SECTION, values: { [GRACE]: 20 }, effectiveFrom: '2026-10-01T00:00:00Z', reason: 'lab across campus' })).status, 200);

  assert.deepEqual(await effective(SECTION), { key: GRACE, value: 12, from: 'department:cs', effectiveFrom: '2026-09-01T06:00:00.000Z' }, 'the section\'s own value is not in effect yet');
  assert.deepEqual((await effective(SECTION, '2026-10-02T00:00:00Z')).value, 20);
  assert.deepEqual((await effective(SECTION, '2026-10-02T00:00:00Z')).from, SECTION);
  assert.deepEqual((await effective('department:ee')).from, 'institution:demo-univ');
  assert.deepEqual((await effective('campus:main')).value, 8);
  assert.deepEqual((await effective(SECTION, '2026-08-01T00:00:00Z')).from, 'default', 'before anything was set');

  clock = Date.parse('2026-10-15T00:00:00Z');
  assert.equal((await put({ scope: SECTION, values: { [GRACE]: null }, effectiveFrom: '2026-11-01T00:00:00Z', reason: 'lab moved back' })).status, 200);
  assert.equal((await effective(SECTION, '2026-10-20T00:00:00Z')).value, 20);
  assert.deepEqual((await effective(SECTION, '2026-11-02T00:00:00Z')).from, 'department:cs');

  const versions = (await (await hub.api(`/api/v1/settings/versions?scope=${SECTION}`)).json()) as { items: { value: unknown; reason: string }[] };
  assert.deepEqual(versions.items.map((version) => [version.value, version.reason]), [[null, 'lab moved back'], [20, 'lab across campus']]);

  // Every change is audited with who and why.
  const { rows } = await hub.db.query<{ actor: string; target: string; reason: string }>(`select actor, target, reason from audit_log where action = 'settings.change' order by id`);
  assert.deepEqual(rows.map((row) => [row.target, row.reason]), [
    ['settings:institution:demo-univ', 'college-wide rule'],
    ['settings:department:cs', 'CS buses arrive late'],
    [`settings:${SECTION}`, 'lab across campus'],
    [`settings:${SECTION}`, 'lab moved back'],
  ]);
  assert.ok(rows.every((row) => row.actor === 'bootstrap'));
});

test('validation names the key and the place in the value; an invalid change is refused whole', async (t) => {
  const hub = await startTestHub(t);
  await seedSmallCampus(hub.db);
  const validate = await hub.api('/api/v1/settings/validate', {
    method: 'POST',
    ...jsonBody({
      values: {
        'attendance.lateGraceMinutes': 500,
        'attendance.colour': 'blue',
        'leave.types': [{ code: 'Medical!', name: 'Medical', effect: 'counts_present', documentsRequired: true, maxDays: 10, termCap: null }],
        'notifications.rules': { guardianOnAbsence: true, consecutiveAbsences: 3, belowThresholdPercent: 75 },
      },
    }),
  });
  const result = (await validate.json()) as { valid: boolean; errors: { key: string; path: string; message: string }[] };
  assert.equal(result.valid, false);
  assert.deepEqual(result.errors.map((error) => [error.key, error.path]), [
    ['attendance.lateGraceMinutes', ''],
    ['attendance.colour', ''],
    ['leave.types', '/0/code'],
  ]);
  assert.match(result.errors[1]!.message, /unknown setting attendance\.colour/);

  const refused = await hub.api('/api/v1/settings', {
    method: 'PUT',
    ...jsonBody({ scope: 'department:cs', values: { 'attendance.qrWindowSeconds': 30, 'approval.chains': { leave: ['principal'] } }, reason: 'two at once' }),
  });
  assert.equal(refused.status, 400);
  const body = (await refused.json()) as { error: string; message: string; details: { path: string } };
  assert.equal(body.error, 'invalid_setting');
  assert.equal(body.details.path, '/values/approval.chains/leave/0');
  const { rows } = await hub.db.query('select 1 from settings_versions');
  assert.equal(rows.length, 0, 'the valid half was not saved either');

  for (const [scope, error] of [['faculty:someone', 'invalid_scope'], ['department:nope', 'not_found']] as const) {
    const response = await hub.api('/api/v1/settings', { method: 'PUT', ...jsonBody({ scope, values: { [GRACE]: 5 }, reason: 'bad scope' }) });
    assert.equal((await response.json() as { error: string }).error, error);
  }
  const noReason = await hub.api('/api/v1/settings', { method: 'PUT', ...jsonBody({ scope: 'department:cs', values: { [GRACE]: 5 } }) });
  assert.equal(noReason.status, 400);
  assert.match(((await noReason.json()) as { message: string }).message, /reason/);
  assert.deepEqual(validateSettings({ 'attendance.thresholdPercent': null }), [], 'null (clear) is always valid');
});

test('an HOD changes their own department and its sections only', async (t) => {
  const hub = await startTestHub(t);
  await seedSmallCampus(hub.db);
  const hod = await createTestUser(hub, { role: 'hod', departmentId: 'cs' });
  const put = (scope: string) => hod.api('/api/v1/settings', { method: 'PUT', ...jsonBody({ scope, values: { [GRACE]: 5 }, reason: 'hod' }) });
  assert.equal((await put('department:cs')).status, 200);
  assert.equal((await put(SECTION)).status, 200);
  assert.equal((await put('department:ee')).status, 404);
  assert.equal((await put('institution:demo-univ')).status, 404);
});

test('the QR window and late grace of a session come from its section\'s settings, with the hub configuration as default', async (t) => {
  const hub = await startTestHub(t);
  await seedSmallCampus(hub.db);
  const sessionId = await insertSession(hub.db);
  const configured = hubDefaults().attendance;
  const at = new Date('2026-08-03T04:00:00Z');
  assert.deepEqual(await attendanceSettingsFor(hub.db, sessionId, at, configured), configured);
  await hub.api('/api/v1/settings', {
    method: 'PUT',
    ...jsonBody({ scope: SECTION, values: { [GRACE]: 25, 'attendance.qrWindowSeconds': 30 }, effectiveFrom: '2026-08-01T00:00:00Z', reason: 'pilot' }),
  });
  assert.deepEqual(await attendanceSettingsFor(hub.db, sessionId, at, configured), { ...configured, lateGraceMinutes: 25, qrWindowSeconds: 30 });
});
