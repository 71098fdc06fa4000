import type { Queryable } from '../db/db.js';

/**
 * Sign-in throttling, kept in the database so that every hub process sees
 * the same counts. Two independent counters:
 * - per account name (known or not, so the answer never tells which): after
 *   `accountFreeFailures` consecutive failures each attempt waits an
 *   exponentially growing delay, capped at `accountMaxDelayMs`. There is no
 *   permanent lock that an attacker could set off against someone else;
 * - per client address, across accounts (credential stuffing): at most
 *   `ipMaxFailures` failures per `ipWindowMs`.
 */
export interface ThrottleLimits {
  accountFreeFailures: number;
  accountBaseDelayMs: number;
  accountMaxDelayMs: number;
  /** Consecutive failures older than this are forgotten. */
  accountResetMs: number;
  ipMaxFailures: number;
  ipWindowMs: number;
}

export const DEFAULT_THROTTLE_LIMITS: ThrottleLimits = {
  accountFreeFailures: 5,
  accountBaseDelayMs: 1_000,
  accountMaxDelayMs: 15 * 60_000,
  accountResetMs: 24 * 60 * 60_000,
  ipMaxFailures: 200,
  ipWindowMs: 15 * 60_000,
};

interface ThrottleRow {
  key: string;
  failures: number;
  window_start: Date;
  last_failure_at: Date;
}

export const accountKey = (username: string) => `account:${username.toLowerCase()}`;
export const addressKey = (ip: string) => `ip:${ip}`;

export function accountDelayMs(failures: number, limits: ThrottleLimits): number {
  if (failures < limits.accountFreeFailures) return 0;
  const exponent = Math.min(failures - limits.accountFreeFailures, 30);
  return Math.min(limits.accountBaseDelayMs * 2 ** exponent, limits.accountMaxDelayMs);
}

/** How long the caller must wait before this attempt is even checked; 0 when it may go ahead. */
export async function throttleWaitMs(db: Queryable, username: string, ip: string, nowMs: number, limits: ThrottleLimits): Promise<number> {
  const { rows } = await db.query<ThrottleRow>('select key, failures, window_start, last_failure_at from login_throttle where key = any($1)', [
    [accountKey(username), addressKey(ip)],
  ]);
  let wait = 0;
  for (const row of rows) {
    if (row.key.startsWith('account:')) {
      if (nowMs - row.last_failure_at.getTime() > limits.accountResetMs) continue;
      wait = Math.max(wait, row.last_failure_at.getTime() + accountDelayMs(row.failures, limits) - nowMs);
    } else if (row.failures >= limits.ipMaxFailures) {
      wait = Math.max(wait, row.window_start.getTime() + limits.ipWindowMs - nowMs);
    }
  }
  return Math.max(0, wait);
}

export async function recordLoginFailure(db: Queryable, username: string, ip: string, nowMs: number, limits: ThrottleLimits): Promise<void> {
  const now = new Date(nowMs);
  // An account's count restarts after a quiet day; an address's after its window.
  await db.query(
    `insert into login_throttle as t (key, failures, window_start, last_failure_at) values ($1, 1, $2, $2)
     on conflict (key) do update set
       failures = case when $2 - t.last_failure_at > make_interval(secs => $3::double precision / 1000) then 1 else t.failures + 1 end,
       window_start = case when $2 - t.last_failure_at > make_interval(secs => $3::double precision / 1000) then $2 else t.window_start end,
       last_failure_at = $2`,
    [accountKey(username), now, limits.accountResetMs],
  );
  await db.query(
    `insert into login_throttle as t (key, failures, window_start, last_failure_at) values ($1, 1, $2, $2)
     on conflict (key) do update set
       failures = case when $2 - t.window_start > make_interval(secs => $3::double precision / 1000) then 1 else t.failures + 1 end,
       window_start = case when $2 - t.window_start > make_interval(secs => $3::double precision / 1000) then $2 else t.window_start end,
       last_failure_at = $2`,
    [addressKey(ip), now, limits.ipWindowMs],
  );
}

export async function recordLoginSuccess(db: Queryable, username: string): Promise<void> {
  await db.query('delete from login_throttle where key = $1', [accountKey(username)]);
}
