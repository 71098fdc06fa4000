import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { migrate } from '../db/migrate.js';
import { createTestDatabase } from '../../test/support/database.js';
import { createScheduler, type Scheduler } from './scheduler.js';

test('two schedulers on one database run each tick of a job exactly once, and a failing job is retried next tick', async (t) => {
  const database = await createTestDatabase();
  t.after(() => database.drop());
  const db = await database.open();
  t.after(() => db.close());
  await migrate(db);
  let clock = Date.parse('2026-09-01T00:00:00Z');
  const runs: string[] = [];
  let failNext = true;
  const schedulers = ['hub-a', 'hub-b'].map((hub) => {
    const scheduler = createScheduler({ db, now: () => clock, logger: pino({ level: 'silent' }) });
    scheduler.register('count', 60_000, async (tx, now) => {
      await tx.query('select 1');
      runs.push(`${hub}@${now.toISOString()}`);
    });
    scheduler.register('flaky', 60_000, async () => {
      if (failNext) {
        failNext = false;
        throw new Error('the first run fails');
      }
    });
    return scheduler;
  });

  const [first, second] = schedulers as [Scheduler, Scheduler];
  assert.deepEqual(await first.runDue(), ['count'], 'the failed run claimed nothing');
  assert.deepEqual(await second.runDue(), ['flaky'], 'the failed job runs again, on the other hub; the other job is not due');
  assert.deepEqual(await Promise.all(schedulers.map((scheduler) => scheduler.runDue())).then((names) => names.flat()), []);

  clock += 59_999;
  await Promise.all(schedulers.map((scheduler) => scheduler.runDue()));
  assert.equal(runs.length, 1, 'not due before the interval');
  clock += 1;
  await Promise.all(schedulers.map((scheduler) => scheduler.runDue()));
  await Promise.all(schedulers.map((scheduler) => scheduler.runDue()));
  assert.equal(runs.length, 2, `one run of the second tick: ${runs.join(', ')}`);
  await Promise.all(schedulers.map((scheduler) => scheduler.stop()));
});
