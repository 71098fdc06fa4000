import { Type, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

/**
 * Every setting the hub knows, with its schema, its default and what it
 * means (docs/settings.md). A value set at a scope must match the schema;
 * `validateSettings` says which key and where it does not.
 */
export interface SettingDefinition {
  description: string;
  schema: TSchema;
  default: unknown;
}

const minutes = (max: number) => Type.Integer({ minimum: 0, maximum: max });
const percent = Type.Number({ minimum: 0, maximum: 100 });

const LEAVE_TYPE = Type.Object(
  {
    code: Type.String({ pattern: '^[a-z][a-z0-9_]{0,31}$' }),
    name: Type.String({ minLength: 1, maxLength: 100 }),
    effect: Type.Union([Type.Literal('counts_present'), Type.Literal('excluded'), Type.Literal('absent_excused')]),
    documentsRequired: Type.Boolean(),
    maxDays: Type.Union([Type.Integer({ minimum: 1, maximum: 365 }), Type.Null()]),
    termCap: Type.Union([Type.Integer({ minimum: 1, maximum: 365 }), Type.Null()]),
  },
  { additionalProperties: false },
);
const ROLE = Type.Union([Type.Literal('faculty'), Type.Literal('hod'), Type.Literal('admin')]);

export const SETTINGS = {
  'attendance.lateGraceMinutes': { description: 'a tap or scan later than this after the start is late', schema: minutes(120), default: 10 },
  'attendance.lateRule': {
    description: 'what lateness becomes: late, or absent once past absentAfterMinutes (null: never)',
    schema: Type.Object({ absentAfterMinutes: Type.Union([minutes(240), Type.Null()]) }, { additionalProperties: false }),
    default: { absentAfterMinutes: null },
  },
  'attendance.qrWindowSeconds': { description: 'the rotating session QR changes this often; one window either side is accepted', schema: Type.Integer({ minimum: 5, maximum: 300 }), default: 15 },
  'attendance.duplicateWindowSeconds': { description: 'a second tap of a student at a session within this is a duplicate', schema: Type.Integer({ minimum: 0, maximum: 3600 }), default: 60 },
  'attendance.thresholdPercent': { description: 'the attendance a student needs to be eligible', schema: percent, default: 75 },
  'sessions.openBeforeMinutes': { description: 'a scheduled session opens this long before its start', schema: minutes(24 * 60), default: 10 },
  'sessions.closeAfterMinutes': { description: 'an open session closes this long after its end', schema: minutes(24 * 60), default: 10 },
  'leave.types': { description: 'the leave types, their effect, documents, and caps', schema: Type.Array(LEAVE_TYPE, { maxItems: 50 }), default: [] },
  'approval.chains': {
    description: 'who approves each kind of request, in order, e.g. {"leave.medical": ["faculty", "hod"]}',
    schema: Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_.]{0,63}$' }), Type.Array(ROLE, { minItems: 1, maxItems: 5 })),
    default: { leave: ['hod'], correction: ['hod'] },
  },
  'corrections.disputeWindowHours': { description: 'a student may dispute a mark this long after the session', schema: Type.Integer({ minimum: 0, maximum: 24 * 60 }), default: 72 },
  'corrections.facultyWindowHours': { description: 'a teacher corrects their own session without approval this long after it', schema: Type.Integer({ minimum: 0, maximum: 24 * 60 }), default: 24 },
  'retention.days': {
    description: 'how long each kind of data is kept, in days, by data kind (docs/audit.md, "Retention")',
    schema: Type.Record(Type.String({ pattern: '^[a-z_]+$' }), Type.Integer({ minimum: 1, maximum: 36_500 })),
    default: {},
  },
  'notifications.rules': {
    description: 'which absences raise notifications',
    schema: Type.Object(
      { guardianOnAbsence: Type.Boolean(), consecutiveAbsences: Type.Integer({ minimum: 0, maximum: 30 }), belowThresholdPercent: percent },
      { additionalProperties: false },
    ),
    default: { guardianOnAbsence: false, consecutiveAbsences: 3, belowThresholdPercent: 75 },
  },
} as const satisfies Record<string, SettingDefinition>;

export type SettingKey = keyof typeof SETTINGS;

export interface SettingError {
  key: string;
  /** JSON pointer inside the value, '' for the value itself. */
  path: string;
  message: string;
}

export function isSettingKey(key: string): key is SettingKey {
  return Object.hasOwn(SETTINGS, key);
}

/** Every problem with `values`: unknown keys, and values that do not match their schema (null clears, and is always valid). */
export function validateSettings(values: Record<string, unknown>): SettingError[] {
  const errors: SettingError[] = [];
  for (const [key, value] of Object.entries(values)) {
    if (!isSettingKey(key)) {
      errors.push({ key, path: '', message: `unknown setting ${key}` });
      continue;
    }
    if (value === null) continue;
    const schema: TSchema = SETTINGS[key].schema;
    for (const error of Value.Errors(schema, value)) errors.push({ key, path: error.path, message: error.message });
  }
  return errors;
}
