import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import type { Db, Queryable } from '../db/db.js';
import type { FieldCipher } from '../keys/fieldCipher.js';
import type { WebhookTarget } from './outbox.js';
import { sendMail, type SmtpSettings } from './smtp.js';

export interface RetryPolicy {
  /** The first retry waits this long; each next one twice as long, up to `maxMs`. */
  baseMs: number;
  maxMs: number;
  /** After this many attempts a delivery is given up as failed (it stays in the ledger). */
  maxAttempts: number;
}

export interface DispatcherOptions {
  db: Db;
  logger: Logger;
  now: () => number;
  webhooks: WebhookTarget[];
  smtp: SmtpSettings | undefined;
  /** Opens a user's sealed email address, for email deliveries. */
  fields: FieldCipher;
  retry: RetryPolicy;
  /** Pause between passes, ms; 0 leaves passes to `dispatchNow` (tests). */
  intervalMs: number;
  /** Deliveries one pass claims. */
  batchSize?: number;
}

export interface Dispatcher {
  /** Delivers what is due now; resolves with the attempts made. */
  dispatchNow(): Promise<number>;
  /** Stops the timer and waits for the pass in flight, whose outcomes are recorded before it resolves. */
  stop(): Promise<void>;
}

/** How long a claimed delivery is left alone before another pass may try it again (a hub that died mid-send). */
const LEASE_MS = 60_000;
const SEND_TIMEOUT_MS = 10_000;

/** The webhook signature header's value: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. */
export function signWebhook(secret: string, timestamp: number, payload: string): string {
  return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${payload}`).digest('hex')}`;
}

export function retryDelayMs(policy: RetryPolicy, attempts: number): number {
  return Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempts - 1));
}

interface Claimed {
  notificationId: string;
  channel: 'webhook' | 'email';
  destination: string;
  attempts: number;
  kind: string;
  recipient: string;
  title: string;
  body: unknown;
  createdAt: Date;
}

type Outcome = { result: 'delivered' } | { result: 'retry' | 'failed'; detail: string } | { result: 'postponed'; until: number };

/**
 * Delivers the outbox: claims due deliveries with a lease (so two hubs, or a
 * hub restarted mid-send, never lose one), sends each, and records the
 * outcome and the attempt in the delivery ledger. A failure is retried with
 * exponential backoff. Delivery is at least once: a hub that dies after a
 * receiver accepted but before the outcome committed sends it again, with the
 * same notification id, which receivers deduplicate on.
 */
export function startDispatcher(options: DispatcherOptions): Dispatcher {
  const { db, now, retry, batchSize = 100 } = options;
  const log = options.logger.child({ ns: 'hub:notifications' });
  const webhooks = new Map(options.webhooks.map((webhook) => [webhook.name, webhook]));
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();

  async function claim(): Promise<Claimed[]> {
    const at = now();
    const { rows } = await db.query<Claimed>(
      `with due as (
         select notification_id, channel, destination from notification_deliveries
          where state = 'pending' and next_attempt_at <= $1
          order by next_attempt_at limit $3 for update skip locked),
       claimed as (
         update notification_deliveries d set attempts = d.attempts + 1, next_attempt_at = $2
           from due where d.notification_id = due.notification_id and d.channel = due.channel and d.destination = due.destination
         returning d.notification_id, d.channel, d.destination, d.attempts)
       select c.notification_id as "notificationId", c.channel, c.destination, c.attempts,
              n.kind, n.recipient, n.title, n.body, n.created_at as "createdAt"
         from claimed c join notifications n on n.id = c.notification_id`,
      [new Date(at), new Date(at + LEASE_MS), batchSize],
    );
    return rows;
  }

  async function send(delivery: Claimed): Promise<Outcome> {
    try {
      if (delivery.channel === 'webhook') {
        const webhook = webhooks.get(delivery.destination);
        if (!webhook) return { result: 'failed', detail: `no webhook named ${delivery.destination} is configured` };
        const payload = JSON.stringify({ id: delivery.notificationId, kind: delivery.kind, recipient: delivery.recipient, title: delivery.title, body: delivery.body, createdAt: delivery.createdAt });
        const timestamp = Math.floor(now() / 1000);
        const response = await fetch(webhook.url, {
          method: 'POST',
          body: payload,
          headers: { 'content-type': 'application/json', 'x-campushub-notification-id': delivery.notificationId, 'x-campushub-signature': signWebhook(webhook.secret, timestamp, payload) },
          signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
        });
        await response.body?.cancel();
        return response.ok ? { result: 'delivered' } : { result: 'retry', detail: `HTTP ${response.status}` };
      }
      if (!options.smtp) return { result: 'failed', detail: 'no SMTP relay is configured' };
      const quietUntil = await quietHoursEnd(db, delivery.destination, now());
      if (quietUntil !== null) return { result: 'postponed', until: quietUntil };
      const address = await emailOf(db, options.fields, delivery.destination);
      if (!address) return { result: 'failed', detail: 'the recipient has no email address' };
      await sendMail(options.smtp, { id: delivery.notificationId, to: address, subject: delivery.title, text: describeBody(delivery.body) });
      return { result: 'delivered' };
    } catch (error) {
      return { result: 'retry', detail: (error as Error).message };
    }
  }

  async function record(delivery: Claimed, outcome: Outcome): Promise<void> {
    const at = now();
    const key = [delivery.notificationId, delivery.channel, delivery.destination, delivery.attempts];
    await db.transaction(async (tx) => {
      // Guarded by the attempt number: if the lease ran out and another pass took the delivery over, this outcome is stale.
      const guard = `where notification_id = $1 and channel = $2 and destination = $3 and attempts = $4 and state = 'pending'`;
      if (outcome.result === 'postponed') {
        await tx.query(`update notification_deliveries set attempts = attempts - 1, next_attempt_at = $5 ${guard}`, [...key, new Date(outcome.until)]);
        return;
      }
      const givesUp = outcome.result === 'failed' || (outcome.result === 'retry' && delivery.attempts >= retry.maxAttempts);
      const state = outcome.result === 'delivered' ? 'delivered' : givesUp ? 'failed' : 'pending';
      const detail = outcome.result === 'delivered' ? null : outcome.detail.slice(0, 500);
      const updated = await tx.query(
        `update notification_deliveries set state = $5, next_attempt_at = $6, last_error = $7, delivered_at = $8 ${guard}`,
        [...key, state, new Date(at + retryDelayMs(retry, delivery.attempts)), detail, state === 'delivered' ? new Date(at) : null],
      );
      if (updated.rowCount === 0) return;
      await tx.query(
        `insert into notification_attempts (notification_id, channel, destination, attempt, at, outcome, detail) values ($1, $2, $3, $4, $5, $6, $7)`,
        [...key, new Date(at), state === 'pending' ? 'retry' : state, detail],
      );
    });
    if (outcome.result !== 'delivered' && outcome.result !== 'postponed') {
      log.warn({ notificationId: delivery.notificationId, channel: delivery.channel, destination: delivery.destination, attempt: delivery.attempts, detail: outcome.detail }, 'notification delivery failed');
    }
  }

  async function pass(): Promise<number> {
    let attempts = 0;
    for (;;) {
      const due = await claim();
      await Promise.all(due.map(async (delivery) => record(delivery, await send(delivery))));
      attempts += due.length;
      if (due.length < batchSize || stopped) return attempts;
    }
  }

  const dispatchNow = (): Promise<number> => {
    const next = running.then(pass);
    running = next.catch(() => {});
    return next;
  };

  const schedule = () => {
    if (stopped || options.intervalMs <= 0) return;
    timer = setTimeout(() => {
      dispatchNow()
        .catch((error: unknown) => log.warn({ err: (error as Error).message }, 'notification pass failed; retrying'))
        .finally(schedule);
    }, options.intervalMs);
    timer.unref();
  };
  schedule();

  return {
    dispatchNow,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

function describeBody(body: unknown): string {
  return Object.entries((body ?? {}) as Record<string, unknown>)
    .map(([key, value]) => `${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join('\n');
}

async function emailOf(db: Queryable, fields: FieldCipher, userId: string): Promise<string | null> {
  const { rows } = await db.query<{ sealed: Buffer | null }>('select email_sealed as sealed from users where id = $1', [userId]);
  const sealed = rows[0]?.sealed;
  return sealed ? fields.open(db, `user:${userId}`, 'email', sealed) : null;
}

/** When the user's quiet hours end, if `at` falls inside them; else null. */
export async function quietHoursEnd(db: Queryable, userId: string, at: number): Promise<number | null> {
  const { rows } = await db.query<{ from: number | null; to: number | null; zone: string }>(
    'select quiet_from as "from", quiet_to as "to", time_zone as zone from notification_preferences where user_id = $1',
    [userId],
  );
  const preference = rows[0];
  if (!preference || preference.from === null || preference.to === null) return null;
  return quietEnd(preference.from, preference.to, preference.zone, at);
}

/** Quiet from minute `from` to minute `to` of the day in `zone` (wrapping midnight when from > to). */
export function quietEnd(from: number, to: number, zone: string, at: number): number | null {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: 'numeric', minute: 'numeric', hourCycle: 'h23' }).formatToParts(new Date(at));
  const minute = Number(parts.find((part) => part.type === 'hour')!.value) * 60 + Number(parts.find((part) => part.type === 'minute')!.value);
  const inside = from <= to ? minute >= from && minute < to : minute >= from || minute < to;
  if (!inside) return null;
  const wait = (to - minute + 1440) % 1440;
  return at - (at % 60_000) + wait * 60_000;
}
