import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { CAMPUS_IDS, seedSmallCampus } from '../support/campus.js';
import { createTestDatabase } from '../support/database.js';
import { TEST_ADMIN_TOKEN } from '../support/hub.js';
import { freePort } from '../support/ports.js';
import { spawnCampushub, TEST_KEKS, type CampushubProcess } from '../support/processes.js';
import { waitFor } from '../support/wait.js';

const SESSIONS_EACH = 10;
const MINUTE = 60_000;

test(
  'two hub processes on one Postgres database open, close and finalize each session exactly once',
  { skip: process.env.TEST_DATABASE_URL ? false : 'needs TEST_DATABASE_URL: two hub processes cannot share one PGlite data directory' },
  async (t) => {
    const database = await createTestDatabase();
    const db = await database.open();
    const hubs: CampushubProcess[] = [];
    // after() hooks run in the order they were added: stop the hubs, then close and drop the database.
    t.after(async () => {
      await Promise.all(hubs.map((hub) => hub.stop()));
      await db.close();
      await database.drop();
    });
    await seedSmallCampus(db);

    // Sessions due for opening (start in 5 minutes) and for closing (ended 30 minutes ago), before either hub runs.
    const now = Date.now();
    const toOpen: string[] = [];
    const toClose: string[] = [];
    for (let index = 0; index < SESSIONS_EACH; index++) {
      for (const [ids, state, startsAt] of [
        [toOpen, 'scheduled', now + 5 * MINUTE],
        [toClose, 'open', now - 90 * MINUTE],
      ] as const) {
        const id = randomUUID();
        await db.query(
          `insert into sessions (id, term_id, campus_id, starts_at, ends_at, state, origin) values ($1, '2026-odd', 'main', $2, $3, $4, 'manual')`,
          [id, new Date(startsAt + index), new Date(startsAt + index + 60 * MINUTE), state],
        );
        await db.query('insert into session_groups (session_id, section_id) values ($1, $2)', [id, CAMPUS_IDS.theory]);
        ids.push(id);
      }
    }

    for (let index = 0; index < 2; index++) {
      const hubArgs = [
        'hub',
        '--http-port', String(await freePort()),
        '--mqtt-port', String(await freePort()),
        '--admin-token', TEST_ADMIN_TOKEN,
        '--mqtt-security', 'development',
        '--scheduler-interval-ms', '100',
        '--database-url', database.options.databaseUrl!,
      ];
      hubs.push(spawnCampushub(hubArgs, { CAMPUSHUB_KEKS: TEST_KEKS }));
    }
    await Promise.all(hubs.map((hub) => hub.ready));

    const count = async (sql: string, ids: string[]) => (await db.query<{ count: number }>(sql, [ids])).rows[0]!.count;
    await waitFor(
      async () =>
        (await count(`select count(*)::int as count from sessions where id = any($1::uuid[]) and state = 'open'`, toOpen)) === SESSIONS_EACH &&
        (await count(`select count(*)::int as count from sessions where id = any($1::uuid[]) and finalized_at is not null`, toClose)) === SESSIONS_EACH,
      { timeoutMs: 60_000, message: 'the scheduled sessions to open and the open ones to close and finalize' },
    );
    // Both hubs keep ticking; let each claim a few more ticks before counting.
    const { rows: before } = await db.query<{ lastRunAt: Date }>(`select last_run_at as "lastRunAt" from scheduler_jobs where name = 'sessions.finalize'`);
    await waitFor(
      async () => {
        const { rows } = await db.query<{ lastRunAt: Date }>(`select last_run_at as "lastRunAt" from scheduler_jobs where name = 'sessions.finalize'`);
        return rows[0]!.lastRunAt.getTime() >= before[0]!.lastRunAt.getTime() + 500;
      },
      { timeoutMs: 30_000, message: 'more scheduler ticks' },
    );

    const entries = async (action: string, ids: string[]) => {
      const { rows } = await db.query<{ target: string; count: number }>(
        `select target, count(*)::int as count from audit_log where action = $1 and target = any($2::text[]) group by target`,
        [action, ids.map((id) => `session:${id}`)],
      );
      return rows;
    };
    for (const [action, ids] of [
      ['session.open', toOpen],
      ['session.close', toClose],
      ['session.finalize', toClose],
    ] as const) {
      const rows = await entries(action, ids);
      assert.equal(rows.length, SESSIONS_EACH, `${action}: every session`);
      assert.ok(rows.every((row) => row.count === 1), `${action}: exactly once each: ${JSON.stringify(rows)}`);
    }
    for (const hub of hubs) assert.equal(await hub.stop(), 0, hub.output());
  },
);
