import type { Logger } from 'pino';
import type { Db, Transaction } from '../db/db.js';

/** One run of a job, inside the transaction that claimed the tick; `now` is the hub's clock. */
export type SchedulerJob = (tx: Transaction, now: Date) => Promise<void>;

export interface Scheduler {
  /** Adds a job that runs at most once every `everyMs` across every hub on the database. */
  register(name: string, everyMs: number, job: SchedulerJob): void;
  /** Runs the due jobs now and then every `intervalMs`; 0 leaves running them to `runDue`. */
  start(intervalMs: number): void;
  /** Stops the timer and waits for a run in progress. */
  stop(): Promise<void>;
  /** Runs each job that is due, in the order registered; returns the names this process ran. */
  runDue(): Promise<string[]>;
}

export interface SchedulerOptions {
  db: Db;
  now: () => number;
  logger: Logger;
}

interface RegisteredJob {
  name: string;
  everyMs: number;
  job: SchedulerJob;
}

/**
 * Periodic jobs that several hub processes on one database may all run
 * without doing anything twice. Each tick of a job is one transaction that
 * first takes a transaction-level advisory lock named after the job (another
 * hub busy with it skips at once instead of waiting), then claims the tick
 * with a conditional upsert of `scheduler_jobs.last_run_at` (a hub that comes
 * after the claim finds the job not due), then runs the job. The job's own
 * updates are conditional too (`where state = 'scheduled'` …), so even a
 * claim that raced would change each row once.
 */
export function createScheduler({ db, now, logger }: SchedulerOptions): Scheduler {
  const log = logger.child({ ns: 'hub:scheduler' });
  const jobs: RegisteredJob[] = [];
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<string[]> | undefined;
  let stopped = false;

  async function runJob({ name, everyMs, job }: RegisteredJob): Promise<boolean> {
    const at = now();
    return db.transaction(async (tx) => {
      const { rows: locks } = await tx.query<{ locked: boolean }>('select pg_try_advisory_xact_lock(hashtext($1)) as locked', [`campushub.scheduler.${name}`]);
      if (!locks[0]?.locked) return false;
      const claimed = await tx.query(
        `insert into scheduler_jobs (name, last_run_at) values ($1, $2)
         on conflict (name) do update set last_run_at = excluded.last_run_at where scheduler_jobs.last_run_at <= $3
         returning name`,
        [name, new Date(at), new Date(at - everyMs)],
      );
      if (claimed.rows.length === 0) return false;
      await job(tx, new Date(at));
      return true;
    });
  }

  async function runAll(): Promise<string[]> {
    const ran: string[] = [];
    for (const entry of jobs) {
      try {
        if (await runJob(entry)) ran.push(entry.name);
      } catch (error) {
        log.error({ err: (error as Error).message, job: entry.name }, 'scheduler job failed; it runs again next tick');
      }
    }
    return ran;
  }

  function runDue(): Promise<string[]> {
    // One run at a time in this process: a timer tick during a test's runDue waits for it.
    const next = (running ?? Promise.resolve([])).then(runAll, runAll);
    running = next;
    return next;
  }

  return {
    register(name, everyMs, job) {
      if (jobs.some((entry) => entry.name === name)) throw new Error(`scheduler job ${name} is registered twice`);
      jobs.push({ name, everyMs, job });
    },
    start(intervalMs) {
      if (intervalMs <= 0) return;
      const tick = () => {
        void runDue().finally(() => {
          if (!stopped) timer = setTimeout(tick, intervalMs);
        });
      };
      tick();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
    runDue,
  };
}
