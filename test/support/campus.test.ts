import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openTestDb } from './keys.js';
import { SMALL_CAMPUS, seedSmallCampus } from './campus.js';

test('the small hand-written campus loads into a migrated database, whole', async (t) => {
  const { db } = await openTestDb(t);
  await seedSmallCampus(db);
  const count = async (table: string) => Number((await db.query<{ n: string }>(`select count(*)::text as n from ${table}`)).rows[0]!.n);
  assert.equal(await count('students'), SMALL_CAMPUS.students.length);
  assert.equal(await count('enrolments'), SMALL_CAMPUS.enrolments.length);
  assert.equal(await count('timetable_slot_groups'), SMALL_CAMPUS.timetable.length);
});
