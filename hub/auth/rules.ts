/**
 * The authorization policy: every rule of the hub, in one place, as pure
 * functions. Routes name a rule in `config.policy`; list queries take the
 * `Scope` that `scopeOf` gives, so rows a caller may not see are never read.
 *
 * A rule has two parts. The role gate says which roles may use the route at
 * all (failing it is 403). The object rule, when there is one, decides on the
 * one object the route is about (failing it is 404, so that nobody learns
 * whether another person's object exists).
 */

export const ROLES = ['admin', 'hod', 'faculty', 'student', 'service'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  /** A user id, an API key id, or `bootstrap` for the development admin token. */
  id: string;
  kind: 'user' | 'api-key' | 'bootstrap';
  role: Role;
  /** The department of an HOD (and of faculty and students, when known). */
  departmentId: string | null;
  /** Rules an API key may use; users have none and are limited by their role alone. */
  scopes: readonly string[] | null;
}

/**
 * What an object rule knows about an object: who owns it. A route fills in
 * what applies to the object it is about to return or change.
 */
export interface OwnedObject {
  /** The user the object belongs to: a student's record, a user's own profile. */
  ownerUserId?: string | null;
  /** The department the object belongs to. */
  departmentId?: string | null;
  /** Faculty who teach the section the object belongs to. */
  facultyUserIds?: readonly string[];
  /** Students enrolled in the section the object belongs to (a session, a timetable entry). */
  memberUserIds?: readonly string[];
}

export type Decision = 'allow' | 'forbidden' | 'not-found';

export interface Rule {
  description: string;
  roles: readonly Role[];
  object?: (principal: Principal, object: OwnedObject) => Decision;
}

/**
 * Personal data of one person: the person, an admin, the HOD of the
 * person's department, and the faculty who teach them.
 */
function personalData(principal: Principal, object: OwnedObject): Decision {
  if (principal.role === 'admin') return 'allow';
  if (typeof object.ownerUserId === 'string' && object.ownerUserId === principal.id) return 'allow';
  if (principal.role === 'hod' && principal.departmentId !== null && object.departmentId === principal.departmentId) return 'allow';
  if (principal.role === 'faculty' && object.facultyUserIds?.includes(principal.id)) return 'allow';
  return 'not-found';
}

/** Only the owner (and an admin acting for them). */
function ownerOnly(principal: Principal, object: OwnedObject): Decision {
  if (principal.role === 'admin') return 'allow';
  return typeof object.ownerUserId === 'string' && object.ownerUserId === principal.id ? 'allow' : 'not-found';
}

/** A section's business: its teachers, its department's HOD and an admin. */
function teaching(principal: Principal, object: OwnedObject): Decision {
  if (principal.role === 'admin') return 'allow';
  if (principal.role === 'hod' && principal.departmentId !== null && object.departmentId === principal.departmentId) return 'allow';
  if (principal.role === 'faculty' && object.facultyUserIds?.includes(principal.id)) return 'allow';
  return 'not-found';
}

/** What a section's members may see too: its sessions and timetable. */
function sectionMember(principal: Principal, object: OwnedObject): Decision {
  if (principal.role === 'student') return object.memberUserIds?.includes(principal.id) ? 'allow' : 'not-found';
  return teaching(principal, object);
}

/**
 * A request between people (a leave, a correction): the people it is from
 * or about (`memberUserIds`: the applicant and the students), the teachers
 * concerned, their department's HOD and an admin.
 */
function party(principal: Principal, object: OwnedObject): Decision {
  if (object.memberUserIds?.includes(principal.id)) return 'allow';
  return teaching(principal, object);
}

const EVERYONE: readonly Role[] = ['admin', 'hod', 'faculty', 'student'];
const STAFF: readonly Role[] = ['admin', 'hod', 'faculty'];

export const RULES = {
  'metrics.read': { description: 'Prometheus metrics', roles: ['admin', 'service'] },
  'events.read': { description: 'raw taps as delivered by agents', roles: ['admin', 'service'] },
  'agents.read': { description: 'campus agents and their status', roles: ['admin', 'service'] },
  'agents.command': { description: 'send a command to an agent', roles: ['admin'] },
  'session.self': { description: 'the caller\'s own sign-in, sessions and profile', roles: EVERYONE },
  'users.read': { description: 'one user\'s profile', roles: EVERYONE, object: personalData },
  'users.list': { description: 'list users (an HOD sees their department)', roles: ['admin', 'hod'] },
  'users.manage': { description: 'create users, change roles, reset credentials', roles: ['admin'] },
  'users.password': { description: 'change a password', roles: EVERYONE, object: ownerOnly },
  'api-keys.manage': { description: 'issue, list and revoke integration API keys', roles: ['admin'] },
  'pki.enrollment.issue': { description: 'issue a one-time agent enrollment token', roles: ['admin'] },
  'pki.broker-certificates.issue': { description: 'issue the external broker\'s server certificate or the hub\'s client certificate', roles: ['admin'] },
  'pki.certificates.read': { description: 'list agent certificates', roles: ['admin'] },
  'pki.certificates.revoke': { description: 'revoke an agent certificate', roles: ['admin'] },
  'audit.read': { description: 'read and verify the audit log', roles: ['admin'] },
  'audit.export': { description: 'download audit entries as CSV or JSON (the download is audited)', roles: ['admin'] },
  'campus.read': { description: 'reference data: campuses, departments, programmes, courses, terms, rooms, holidays', roles: [...EVERYONE, 'service'] },
  'campus.manage': { description: 'create and change reference data, rooms and their door devices', roles: ['admin'] },
  'import.run': { description: 'import from the student information system', roles: ['admin', 'service'] },
  'students.read': { description: 'one student', roles: EVERYONE, object: personalData },
  'students.list': { description: 'list students (HOD: department; faculty: those they teach)', roles: STAFF },
  'sections.read': { description: 'one course section with its teachers and roll', roles: STAFF, object: teaching },
  'sections.list': { description: 'list course sections (scoped like students)', roles: EVERYONE },
  'timetable.read': { description: 'the weekly timetable and its changes', roles: [...EVERYONE, 'service'] },
  'timetable.manage': { description: 'change the timetable, generate sessions (an HOD: their department\'s sections)', roles: ['admin', 'hod'], object: teaching },
  'sessions.read': { description: 'one session', roles: EVERYONE, object: sectionMember },
  'sessions.list': { description: 'list sessions (scoped: teaching, department, or the student\'s own)', roles: EVERYONE },
  'sessions.manage': { description: 'create, open, close and cancel a session', roles: STAFF, object: teaching },
  'sessions.qr': { description: 'the rotating QR of an open session', roles: STAFF, object: teaching },
  'records.mark': { description: 'mark attendance in a session, one by one or in bulk', roles: STAFF, object: teaching },
  'records.roll': { description: 'a session\'s roll: every student\'s status and how it came about', roles: STAFF, object: teaching },
  'records.read': { description: 'one student\'s records and their history', roles: EVERYONE, object: personalData },
  'records.scan': { description: 'mark oneself present by scanning a session\'s QR', roles: ['student'] },
  'settings.read': { description: 'effective settings at any scope, their versions, and validating values', roles: STAFF },
  'settings.manage': { description: 'change settings (an HOD: their department and its sections)', roles: ['admin', 'hod'], object: teaching },
  'privacy.export': { description: 'everything held about one student, as a bundle (the student themselves, or an admin)', roles: EVERYONE, object: ownerOnly },
  'privacy.erase': { description: 'erase a student: pseudonymize and destroy their keys', roles: ['admin'] },
  'notifications.inbox': { description: 'the caller\'s own in-app notifications and preferences', roles: EVERYONE },
  'notifications.preferences': { description: 'set the caller\'s own notification preferences and quiet hours', roles: EVERYONE },
  'notifications.ledger': { description: 'the delivery ledger: when each notification went out, by channel', roles: ['admin'] },
  'unmatched.read': { description: 'taps that matched no session, with the reason', roles: ['admin', 'service'] },
  'devices.read': { description: 'door devices: registration, room, live status, link statistics, sync watermark', roles: ['admin', 'service'] },
  'devices.manage': { description: 'register a door device, assign it to a room, push the offline cache to agents', roles: ['admin'] },
  'templates.read': { description: 'a student\'s fingerprint enrollments (finger, format, quality; never the template)', roles: ['admin', 'hod', 'student'], object: personalData },
  'templates.enroll': { description: 'store a fingerprint template for a student with consent on record', roles: ['admin', 'service'] },
  'templates.delete': { description: 'delete a template from the hub and from every agent and device', roles: ['admin'] },
  'templates.distribute': { description: 'send templates to the agents of a campus, and read per-device sync status', roles: ['admin', 'service'] },
  'consent.read': { description: 'a student\'s biometric consent record', roles: ['admin', 'hod', 'student'], object: personalData },
  'consent.manage': { description: 'grant or withdraw biometric consent (the student, or an admin for them)', roles: ['admin', 'student'], object: ownerOnly },
  'personal-qr.issue': { description: 'the caller\'s own short-lived personal QR code', roles: ['student'] },
  'leave.types.read': { description: 'the leave types and their rules', roles: EVERYONE },
  'leave.types.manage': { description: 'create and change leave types: effect, documents, limits, approval chain', roles: ['admin'] },
  'leave.apply': { description: 'apply for leave (a student for themselves; faculty on-duty leave for students they teach)', roles: EVERYONE },
  'leave.list': { description: 'list leave requests (HOD: department; faculty: their students\' and their own; student: their own)', roles: EVERYONE },
  'leave.read': { description: 'one leave request, its decisions, documents and impact', roles: EVERYONE, object: party },
  'leave.decide': { description: 'approve or reject a leave request at one\'s step of its approval chain', roles: STAFF, object: teaching },
  'leave.withdraw': { description: 'withdraw one\'s own pending leave request, and add its documents', roles: EVERYONE, object: ownerOnly },
  'leave.revoke': { description: 'revoke an approved leave, taking it off the register', roles: STAFF, object: teaching },
  'leave.balances': { description: 'a student\'s leave balances by type and term', roles: EVERYONE, object: personalData },
  'leave.report': { description: 'leave taken by type and state (HOD: department)', roles: ['admin', 'hod'] },
  'corrections.request': { description: 'dispute one\'s mark (student) or correct a session one teaches (faculty, HOD)', roles: EVERYONE },
  'corrections.incident': { description: 'report an incident (a reader down) whose one reviewed correction covers every affected session', roles: STAFF },
  'corrections.list': { description: 'list corrections (HOD: department; faculty: their sessions\' and their own; student: their own)', roles: EVERYONE },
  'corrections.read': { description: 'one correction, its items and evidence', roles: EVERYONE, object: party },
  'corrections.decide': { description: 'approve or reject a pending correction', roles: STAFF, object: teaching },
  'corrections.withdraw': { description: 'withdraw one\'s own pending correction, and add its evidence', roles: EVERYONE, object: ownerOnly },
} as const satisfies Record<string, Rule>;

export type RuleName = keyof typeof RULES;
/** What a route declares: a rule, or `public` for routes anyone may call (health, sign-in, enrollment with its own token). */
export type RoutePolicy = RuleName | 'public';

export function isRoutePolicy(value: unknown): value is RoutePolicy {
  return value === 'public' || (typeof value === 'string' && Object.hasOwn(RULES, value));
}

/** The role gate. An API key also needs the rule among its scopes. */
export function mayUse(principal: Principal, rule: RuleName): boolean {
  const spec: Rule = RULES[rule];
  if (!spec.roles.includes(principal.role)) return false;
  return principal.scopes === null || principal.scopes.includes(rule);
}

/** The object rule; a rule without one allows every object its role gate lets through. */
export function decide(principal: Principal, rule: RuleName, object: OwnedObject): Decision {
  if (!mayUse(principal, rule)) return 'forbidden';
  const spec: Rule = RULES[rule];
  return spec.object ? spec.object(principal, object) : 'allow';
}

export function hasObjectRule(rule: RuleName): boolean {
  return (RULES[rule] as Rule).object !== undefined;
}

/**
 * Which rows a principal's lists may contain. Query modules turn this into
 * their WHERE clause; they never read rows and filter afterwards.
 */
export type Scope =
  | { kind: 'all' }
  | { kind: 'department'; departmentId: string }
  | { kind: 'teaching'; facultyUserId: string }
  | { kind: 'self'; userId: string }
  | { kind: 'none' };

export function scopeOf(principal: Principal): Scope {
  switch (principal.role) {
    case 'admin':
      return { kind: 'all' };
    case 'hod':
      return principal.departmentId ? { kind: 'department', departmentId: principal.departmentId } : { kind: 'none' };
    case 'faculty':
      return { kind: 'teaching', facultyUserId: principal.id };
    case 'student':
      return { kind: 'self', userId: principal.id };
    case 'service':
      return { kind: 'none' };
  }
}
