import { randomUUID } from 'node:crypto';
import type { Queryable } from '../db/db.js';

/** A webhook every notification (or the kinds listed) is posted to, signed with its secret (docs/notifications.md). */
export interface WebhookTarget {
  /** Names the webhook in the delivery ledger; the URL and secret are configuration. */
  name: string;
  url: string;
  secret: string;
  /** Only these kinds; all when absent. */
  kinds?: string[];
}

export interface NewNotification {
  /** What happened, e.g. `attendance.below_threshold`, `session.not_taken`, `approval.pending`. */
  kind: string;
  /** A user id, or `guardian:<student id>`. */
  recipient: string;
  /** With kind and recipient, what makes it one notification: raising it again does nothing. */
  dedupeKey: string;
  title: string;
  /** Facts for the receiver; never secrets, and personal data only as ids. */
  body: Record<string, unknown>;
}

export interface OutboxRouting {
  webhooks: WebhookTarget[];
  /** Email goes out only when an SMTP relay is configured. */
  email: boolean;
}

const USER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Writes a notification and its pending deliveries in the caller's
 * transaction (the transactional outbox): it exists if and only if the change
 * that raised it commits, and the dispatcher delivers it afterwards. A user
 * recipient sees it in the inbox at once; email respects their preferences.
 * Returns the notification's id, or null when it had been raised before.
 */
export async function enqueueNotification(tx: Queryable, routing: OutboxRouting, notification: NewNotification, at: Date): Promise<string | null> {
  const id = randomUUID();
  const { rows } = await tx.query<{ id: string }>(
    `insert into notifications (id, kind, recipient, dedupe_key, title, body, created_at) values ($1, $2, $3, $4, $5, $6, $7)
     on conflict (kind, recipient, dedupe_key) do nothing returning id`,
    [id, notification.kind, notification.recipient, notification.dedupeKey, notification.title, JSON.stringify(notification.body), at],
  );
  if (rows.length === 0) return null;
  const deliveries: { channel: 'webhook' | 'email'; destination: string }[] = routing.webhooks
    .filter((webhook) => !webhook.kinds || webhook.kinds.includes(notification.kind))
    .map((webhook) => ({ channel: 'webhook', destination: webhook.name }));
  if (routing.email && USER_ID.test(notification.recipient) && (await wantsEmail(tx, notification.recipient, notification.kind))) {
    deliveries.push({ channel: 'email', destination: notification.recipient });
  }
  if (deliveries.length > 0) {
    await tx.query(
      `insert into notification_deliveries (notification_id, channel, destination, next_attempt_at)
       select $1, d.channel, d.destination, $3 from json_to_recordset($2::json) as d(channel text, destination text)`,
      [id, JSON.stringify(deliveries), at],
    );
  }
  return id;
}

async function wantsEmail(tx: Queryable, userId: string, kind: string): Promise<boolean> {
  const { rows } = await tx.query<{ email: boolean; muted: boolean }>(
    `select email, $2 = any (muted_kinds) as muted from notification_preferences where user_id = $1`,
    [userId, kind],
  );
  return !rows[0] || (rows[0].email && !rows[0].muted);
}
