import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createTestDatabase } from '../../test/support/database.js';
import { AUDIT_ROW_COLUMNS, GENESIS_HASH, canonicalAuditEntry, canonicalJson, chainHash, type AuditRow } from './canonical.js';

// Golden vectors: the canonical text and the chain hashes were cross-checked with
// Python's hashlib (sha256(bytes(32) + c1.encode()), then sha256(h1 + c2.encode())).
const ROW_1: AuditRow = {
  id: '7',
  seq: '1',
  at: '2026-01-02T03:04:05.123456Z',
  actor: 'user:0190',
  action: 'user.role.change',
  target: 'user:42',
  before: '{"roles": ["staff"], "name": "Zoë \\"Z\\""}',
  after: '{"b": {"y": 2, "x": 1.50}, "a": [true, null, 12345678901234567890, -0.001]}',
  reason: 'promotion',
  source: 'http',
  request_id: 'req-1',
  ip: '10.0.0.1',
  outcome: 'success',
  prev_hash: null,
  hash: null,
};
const CANONICAL_1 =
  '{"v":1,"seq":1,"id":7,"at":"2026-01-02T03:04:05.123456Z","actor":"user:0190","action":"user.role.change","target":"user:42",' +
  '"before":{"name":"Zoë \\"Z\\"","roles":["staff"]},"after":{"a":[true,null,12345678901234567890,-0.001],"b":{"x":1.50,"y":2}},' +
  '"reason":"promotion","source":"http","request_id":"req-1","ip":"10.0.0.1","outcome":"success"}';
const HASH_1 = '92feae023071c855c6121927e45a195db5df546fd3278bb8aa1f7898d8608d30';

const ROW_2: AuditRow = {
  ...ROW_1,
  id: '9',
  seq: '2',
  at: '2026-01-02T03:04:06.000000Z',
  actor: 'system',
  action: 'pki.certificate.revoke',
  target: null,
  before: null,
  after: null,
  reason: null,
  source: 'system',
  request_id: null,
  ip: null,
  outcome: 'failure',
};
const CANONICAL_2 =
  '{"v":1,"seq":2,"id":9,"at":"2026-01-02T03:04:06.000000Z","actor":"system","action":"pki.certificate.revoke","target":null,' +
  '"before":null,"after":null,"reason":null,"source":"system","request_id":null,"ip":null,"outcome":"failure"}';
const HASH_2 = '1018874833b7eab13a817149514c36acca2f2dd9331021745b4ed8c74130ebf7';

test('canonical encoding golden vectors: fixed key order, sorted jsonb keys, verbatim numbers, nulls', () => {
  assert.equal(canonicalAuditEntry(ROW_1), CANONICAL_1);
  assert.equal(canonicalAuditEntry(ROW_2), CANONICAL_2);
});

test('chain hash golden vectors: sha256(prev_hash || canonical), seq 1 after 32 zero bytes', () => {
  assert.equal(GENESIS_HASH.toString('hex'), '00'.repeat(32));
  const h1 = chainHash(GENESIS_HASH, CANONICAL_1);
  assert.equal(h1.toString('hex'), HASH_1);
  assert.equal(h1.toString('hex'), createHash('sha256').update(Buffer.concat([Buffer.alloc(32), Buffer.from(CANONICAL_1, 'utf8')])).digest('hex'));
  assert.equal(chainHash(h1, CANONICAL_2).toString('hex'), HASH_2);
});

test('the seal seq given to canonicalAuditEntry wins over the row\'s (unsealed rows have none)', () => {
  assert.equal(canonicalAuditEntry({ ...ROW_1, seq: null }, '1'), CANONICAL_1);
  assert.throws(() => canonicalAuditEntry({ ...ROW_1, seq: null }), /seq null is not a whole number/);
  assert.throws(() => canonicalAuditEntry({ ...ROW_1, id: '7.0' }), /id "7.0"/);
});

test('canonicalJson sorts keys by UTF-16 code units, drops whitespace, keeps number literals and re-escapes strings', () => {
  assert.equal(canonicalJson(' {"é":1, "e":2, " z":{ }, "A":[ ]} '), '{" z":{},"A":[],"e":2,"é":1}');
  assert.equal(canonicalJson('"\\u00e9\\/\\n"'), '"é/\\n"');
  assert.equal(canonicalJson('[1.50, 1e2, -0, 0.000001]'), '[1.50,1e2,-0,0.000001]');
  assert.equal(canonicalJson('{"a":1,"a":2}'), '{"a":2}');
  assert.equal(canonicalJson('{"k":"\\ud83d\\ude00"}'), '{"k":"😀"}');
  for (const bad of ['', '{', '[1,]', '{"a" 1}', '01', 'nul', '"\u0001"', '1 2']) assert.throws(() => canonicalJson(bad), /invalid JSON/, bad);
});

test('the database renders a row for the canonical encoding identically on this backend (UTC microseconds, jsonb text)', async (t) => {
  const database = await createTestDatabase();
  t.after(() => database.drop());
  const db = await database.open();
  t.after(() => db.close());
  await db.query(`set time zone 'Asia/Kolkata'`);
  await db.query(
    `insert into audit_log (at, actor, action, target, before, after, reason, source, request_id, ip)
     values ('2026-01-02 08:34:05.123456+05:30', 'user:0190', 'user.role.change', 'user:42', $1, $2, 'promotion', 'http', 'req-1', '10.0.0.1')`,
    [ROW_1.before, ROW_1.after],
  );
  const { rows } = await db.query<AuditRow>(`select ${AUDIT_ROW_COLUMNS} from audit_log`);
  const row = rows[0]!;
  assert.equal(row.at, '2026-01-02T03:04:05.123456Z');
  assert.equal(row.seq, null);
  assert.equal(row.hash, null);
  // jsonb normalises key order and whitespace but keeps the numbers' digits.
  assert.equal(canonicalAuditEntry({ ...row, id: '7' }, '1'), CANONICAL_1);
});
