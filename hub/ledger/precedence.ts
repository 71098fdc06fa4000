/**
 * The one precedence rule of the attendance ledger: which of a record's
 * events decides its effective status. Everything that shows a status (the
 * projection kept in `attendance_current`, "as of" history) folds events
 * through `outranks`; nothing else decides. See docs/ledger.md.
 */

export const ATTENDANCE_STATUSES = ['present', 'late', 'absent', 'excused', 'on_duty'] as const;
export type AttendanceStatus = (typeof ATTENDANCE_STATUSES)[number];

export const MARK_SOURCES = ['manual', 'bulk', 'qr', 'biometric', 'card', 'leave', 'correction', 'automatic'] as const;
export type MarkSource = (typeof MARK_SOURCES)[number];

/** Taps: a door device or the session's rotating QR identified the student. */
export const TAP_SOURCES: readonly MarkSource[] = ['qr', 'biometric', 'card'];

/** What the rule needs to know about an event. */
export interface RankedEvent {
  id: string;
  status: AttendanceStatus;
  source: MarkSource;
  /** When the hub recorded it, ms since the epoch. */
  recordedAt: number;
  /** For taps: when the student tapped (device time, else receipt), ms; ignored for other sources. */
  tappedAt: number | null;
  /** Set on a revocation: the id of the event it withdraws. Absent or null for every other event. */
  revokes?: string | null;
}

/**
 * Levels, strongest first. The order as stated is correction > faculty
 * manual > bulk > leave > tap > automatic absent, with one more rule: a leave
 * applies only to absent or unmarked students, never over present or late.
 * Taps only ever say present or late, so a tap stands against a leave
 * whichever arrived first; folding that rule into the levels gives one total
 * order, and a total order is what makes the projection independent of the
 * order in which events arrive.
 */
const LEVEL: Record<MarkSource, number> = {
  correction: 5,
  manual: 4,
  bulk: 3,
  qr: 2,
  biometric: 2,
  card: 2,
  leave: 1,
  automatic: 0,
};

/**
 * Within a level: for correction, manual, bulk and leave the later decision
 * wins (by recorded time, then id). For taps the first tap decides (by tap
 * time, then id): a later tap never downgrades present to late, and never
 * upgrades late to present either, so arriving twice changes nothing. For
 * automatic absents the first one stands (there is only ever one).
 */
function firstWins(source: MarkSource): boolean {
  return LEVEL[source] === LEVEL.qr || source === 'automatic';
}

function withinLevelTime(event: RankedEvent): number {
  return firstWins(event.source) ? (event.tappedAt ?? event.recordedAt) : event.recordedAt;
}

/**
 * True when `candidate` decides the record instead of `incumbent`. A
 * revocation decides nothing itself: it only removes the event it names from
 * the fold (see `project`).
 */
export function outranks(candidate: RankedEvent, incumbent: RankedEvent | null): boolean {
  if (candidate.revokes) return false;
  if (!incumbent) return true;
  const levels = LEVEL[candidate.source] - LEVEL[incumbent.source];
  if (levels !== 0) return levels > 0;
  const times = withinLevelTime(candidate) - withinLevelTime(incumbent);
  const ids = candidate.id < incumbent.id ? -1 : candidate.id > incumbent.id ? 1 : 0;
  const later = times !== 0 ? times > 0 : ids > 0;
  if (times === 0 && ids === 0) return false;
  return firstWins(candidate.source) ? !later : later;
}

/**
 * The event that decides a record, given all of its events in any order;
 * null when there are none left. Revoked events (a leave revoked after
 * approval) and the revocations themselves take no part: the record is what
 * it would have been had the revoked event never been recorded.
 */
export function project<E extends RankedEvent>(events: readonly E[]): E | null {
  const revoked = new Set(events.flatMap((event) => (event.revokes ? [event.revokes] : [])));
  let winner: E | null = null;
  for (const event of events) if (!revoked.has(event.id) && outranks(event, winner)) winner = event;
  return winner;
}
