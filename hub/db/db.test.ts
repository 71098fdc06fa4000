import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase } from '../../test/support/database.js';
import { migrate } from './migrate.js';

test('a test database arrives migrated, and migrating again applies nothing', async (t) => {
  const database = await createTestDatabase();
  t.after(() => database.drop());
  const db = await database.open();
  t.after(() => db.close());
  const { rows } = await db.query<{ name: string }>('select name from schema_migrations order by name');
  assert.ok(rows.some((row) => row.name === '0001_events'));
  assert.deepEqual(await migrate(db), []);
});

test('a transaction that throws leaves nothing behind', async (t) => {
  const database = await createTestDatabase();
  t.after(() => database.drop());
  const db = await database.open();
  t.after(() => db.close());
  await assert.rejects(
    db.transaction(async (tx) => {
      await tx.query(`insert into agents (agent_id, campus_id) values ('a1', 'c1')`);
      throw new Error('abort');
    }),
    /abort/,
  );
  const { rows } = await db.query<{ n: number }>('select count(*)::int as n from agents');
  assert.equal(rows[0]?.n, 0);
});
