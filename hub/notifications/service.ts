import type { Queryable } from '../db/db.js';
import type { Dispatcher } from './dispatcher.js';
import { enqueueNotification, type NewNotification, type OutboxRouting } from './outbox.js';
import { notifyEligibilityPublished, notifyPendingApproval } from './rules.js';

/** What other areas of the hub call to raise notifications, in their own transaction. */
export interface Notifications {
  routing: OutboxRouting;
  dispatcher: Dispatcher;
  notify(tx: Queryable, notification: NewNotification, at: Date): Promise<string | null>;
  /** Leave and corrections: a request waits for these approvers. */
  pendingApproval(tx: Queryable, request: { kind: string; id: string; approverUserIds: string[]; summary: string }, at: Date): Promise<void>;
  /** Eligibility: a list was published to these students. */
  eligibilityPublished(tx: Queryable, list: { id: string; termId: string; students: { userId: string; eligible: boolean }[] }, at: Date): Promise<void>;
}

export function createNotifications(routing: OutboxRouting, dispatcher: Dispatcher): Notifications {
  return {
    routing,
    dispatcher,
    notify: (tx, notification, at) => enqueueNotification(tx, routing, notification, at),
    pendingApproval: (tx, request, at) => notifyPendingApproval(tx, routing, request, at),
    eligibilityPublished: (tx, list, at) => notifyEligibilityPublished(tx, routing, list, at),
  };
}
