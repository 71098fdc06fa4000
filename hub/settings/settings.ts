import { randomUUID } from 'node:crypto';
import { appendAudit, type AuditContext } from '../audit/append.js';
import type { AttendanceSettings } from '../config.js';
import type { Queryable } from '../db/db.js';
import { HttpError } from '../errors.js';
import { SETTINGS, validateSettings, type SettingKey } from './registry.js';

/**
 * Versioned settings scoped institution → campus → department → section
 * (docs/settings.md). `hub/config.ts` is the process's own configuration;
 * these are the institution's rules, changed at run time, by people, with a
 * reason, from a date.
 */
export const SCOPE_KINDS = ['institution', 'campus', 'department', 'section'] as const;
export type ScopeKind = (typeof SCOPE_KINDS)[number];
export interface Scope {
  kind: ScopeKind;
  id: string;
}

export interface EffectiveSetting {
  key: SettingKey;
  value: unknown;
  /** Where the value comes from: a scope (`section:…`), or `default`. */
  from: string;
  effectiveFrom: string | null;
}

export function parseScope(text: string): Scope {
  const at = text.indexOf(':');
  const kind = text.slice(0, at) as ScopeKind;
  const id = text.slice(at + 1);
  if (at < 0 || !SCOPE_KINDS.includes(kind) || id === '') {
    throw new HttpError(400, 'invalid_scope', `scope ${JSON.stringify(text)} is not <${SCOPE_KINDS.join('|')}>:<id>`, { path: '/scope' });
  }
  return { kind, id };
}

export const scopeText = (scope: Scope) => `${scope.kind}:${scope.id}`;

/** The scope and the ones it inherits from, most specific first; null when the scope does not exist. */
export async function scopeChain(db: Queryable, scope: Scope): Promise<{ chain: Scope[]; departmentId: string | null } | null> {
  const queries: Record<ScopeKind, string> = {
    section: `select s.id::text as section, d.id as department, c.id as campus, c.institution_id as institution
                from course_sections s join departments d on d.id = s.department_id join campuses c on c.id = d.campus_id where s.id::text = $1`,
    department: `select null as section, d.id as department, c.id as campus, c.institution_id as institution
                   from departments d join campuses c on c.id = d.campus_id where d.id = $1`,
    campus: `select null as section, null as department, c.id as campus, c.institution_id as institution from campuses c where c.id = $1`,
    institution: `select null as section, null as department, null as campus, i.id as institution from institutions i where i.id = $1`,
  };
  if (scope.kind === 'section' && !/^[0-9a-f-]{36}$/.test(scope.id)) return null;
  const { rows } = await db.query<Record<ScopeKind, string | null>>(queries[scope.kind], [scope.id]);
  const row = rows[0];
  if (!row) return null;
  const chain = [...SCOPE_KINDS].reverse().flatMap((kind) => (row[kind] ? [{ kind, id: row[kind]! }] : []));
  return { chain, departmentId: row.department };
}

/**
 * The value of every setting (or of `keys`) at `scope` at moment `at`: for
 * each key, the latest version in effect at `at` at the most specific scope
 * of the chain that has one in effect (a null version clears it there),
 * else the default.
 */
export async function effectiveSettings(
  db: Queryable,
  chain: Scope[],
  at: Date,
  keys: readonly SettingKey[] = Object.keys(SETTINGS) as SettingKey[],
  /** Defaults that replace the registry's, e.g. from the hub's own configuration. */
  defaults: Partial<Record<SettingKey, unknown>> = {},
): Promise<EffectiveSetting[]> {
  const { rows } = await db.query<{ key: string; scopeKind: ScopeKind; scopeId: string; value: unknown; effectiveFrom: Date }>(
    `select distinct on (key, scope_kind, scope_id) key, scope_kind as "scopeKind", scope_id as "scopeId", value, effective_from as "effectiveFrom"
       from settings_versions
      where key = any ($1::text[]) and effective_from <= $2
        and (scope_kind, scope_id) in (select k, i from json_to_recordset($3::json) as c(k text, i text))
      order by key, scope_kind, scope_id, effective_from desc, created_at desc`,
    [keys, at, JSON.stringify(chain.map((scope) => ({ k: scope.kind, i: scope.id })))],
  );
  return keys.map((key) => {
    for (const scope of chain) {
      const version = rows.find((row) => row.key === key && row.scopeKind === scope.kind && row.scopeId === scope.id);
      if (version && version.value !== null) return { key, value: version.value, from: scopeText(scope), effectiveFrom: version.effectiveFrom.toISOString() };
    }
    return { key, value: key in defaults ? defaults[key] : SETTINGS[key].default, from: 'default', effectiveFrom: null };
  });
}

/**
 * The attendance settings in effect for a session at a moment: those of its
 * first section (by id; a combined lecture's sections normally share their
 * department's), with the hub's configuration as the defaults.
 */
export async function attendanceSettingsFor(db: Queryable, sessionId: string, at: Date, configured: AttendanceSettings): Promise<AttendanceSettings> {
  const { rows } = await db.query<{ sectionId: string }>('select section_id::text as "sectionId" from session_groups where session_id = $1 order by section_id limit 1', [sessionId]);
  if (!rows[0]) return configured;
  const resolved = await scopeChain(db, { kind: 'section', id: rows[0].sectionId });
  const keys = Object.keys(ATTENDANCE_KEYS) as (keyof typeof ATTENDANCE_KEYS)[];
  const settings = await effectiveSettings(
    db,
    resolved?.chain ?? [],
    at,
    keys,
    Object.fromEntries(keys.map((key) => [key, configured[ATTENDANCE_KEYS[key]]])),
  );
  return { ...configured, ...Object.fromEntries(settings.map((setting) => [ATTENDANCE_KEYS[setting.key as keyof typeof ATTENDANCE_KEYS], setting.value])) };
}

/** The settings that replace `HubConfig.attendance` values per section. */
const ATTENDANCE_KEYS = {
  'attendance.lateGraceMinutes': 'lateGraceMinutes',
  'attendance.qrWindowSeconds': 'qrWindowSeconds',
  'attendance.duplicateWindowSeconds': 'duplicateWindowSeconds',
} as const satisfies Partial<Record<SettingKey, keyof AttendanceSettings>>;

export interface SettingsChange {
  scope: Scope;
  values: Record<string, unknown>;
  effectiveFrom: Date;
  reason: string;
}

/** Validates and records a change as new versions, with its audit entry naming who and why, in the caller's transaction. */
export async function changeSettings(tx: Queryable, change: SettingsChange, audit: AuditContext, at: Date): Promise<void> {
  const errors = validateSettings(change.values);
  if (errors.length > 0) {
    const [first] = errors;
    throw new HttpError(400, 'invalid_setting', `${first!.key}${first!.path}: ${first!.message}`, { path: `/values/${first!.key}${first!.path}`, errors });
  }
  const keys = Object.keys(change.values) as SettingKey[];
  const resolved = await scopeChain(tx, change.scope);
  const before = Object.fromEntries((await effectiveSettings(tx, resolved!.chain, change.effectiveFrom, keys)).map((setting) => [setting.key, setting.value]));
  for (const key of keys) {
    await tx.query(
      `insert into settings_versions (id, scope_kind, scope_id, key, value, effective_from, created_at, actor, reason) values ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [randomUUID(), change.scope.kind, change.scope.id, key, change.values[key] === null ? null : JSON.stringify(change.values[key]), change.effectiveFrom, at, audit.actor, change.reason],
    );
  }
  await appendAudit(tx, {
    ...audit,
    action: 'settings.change',
    target: `settings:${scopeText(change.scope)}`,
    before,
    after: { values: change.values, effectiveFrom: change.effectiveFrom.toISOString() },
    reason: change.reason,
  });
}
