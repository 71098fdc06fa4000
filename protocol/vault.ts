import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { ID_PATTERN } from './topics.js';
import { UUID_PATTERN } from './ids.js';

const Uuid = Type.String({ pattern: UUID_PATTERN });
const DeviceId = Type.String({ pattern: ID_PATTERN });

/** The AAD context of a fingerprint template's envelope: whose finger, which record, in which format. */
export function templateContext(template: { templateId: string; studentId: string; finger: number; format: string }) {
  return { subject: template.studentId, finger: template.finger, templateId: template.templateId, format: template.format };
}

/** One template as the hub hands it to an agent: the binary envelope (base64), its DEK wrapped for that agent's key only. */
export const TemplateDelivery = Type.Object(
  {
    templateId: Uuid,
    studentId: Uuid,
    /** How door terminals know the student (the ZK user id); null when the student has none. */
    deviceUserId: Type.Union([Type.String({ minLength: 1, maxLength: 24 }), Type.Null()]),
    finger: Type.Integer({ minimum: 0, maximum: 9 }),
    format: Type.String({ minLength: 1, maxLength: 40 }),
    envelope: Type.String({ minLength: 1, maxLength: 16_384, description: 'base64 of the binary envelope (protocol/envelope.ts)' }),
  },
  { additionalProperties: false },
);
export type TemplateDelivery = Static<typeof TemplateDelivery>;

const DeviceOutcome = Type.Object(
  {
    templateId: Uuid,
    deviceId: DeviceId,
    state: Type.Union([Type.Literal('present'), Type.Literal('removed'), Type.Literal('failed')]),
    detail: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);

const OfflineStudent = Type.Object({ studentId: Uuid, deviceUserId: Type.Union([Type.String({ maxLength: 24 }), Type.Null()]) }, { additionalProperties: false });

/** One session of the day as a door needs it offline: where, when, and who is on its roll. */
export const OfflineSession = Type.Object(
  {
    sessionId: Uuid,
    roomId: Type.Union([Type.String({ maxLength: 64 }), Type.Null()]),
    deviceIds: Type.Array(DeviceId, { maxItems: 64 }),
    startsAt: Type.String({ format: 'date-time' }),
    endsAt: Type.String({ format: 'date-time' }),
    /** Taps count this long before the start (minutes). */
    openBeforeMinutes: Type.Integer({ minimum: 0, maximum: 240 }),
    students: Type.Array(OfflineStudent, { maxItems: 5000 }),
  },
  { additionalProperties: false },
);
export type OfflineSession = Static<typeof OfflineSession>;

/** The format of a template read from a device of each kind (formatFamily maps it back). */
export const CAPTURE_FORMATS: Readonly<Record<string, string>> = { zk: 'zk-bio10', r30x: 'r30x-char' };

/** A device the hub asks an agent to run, in the form of the agent's own configuration. */
export const RemoteDevice = Type.Object(
  {
    id: DeviceId,
    kind: Type.String({ pattern: '^[a-z0-9-]{1,32}$' }),
    url: Type.String({ minLength: 1, maxLength: 500 }),
  },
  { additionalProperties: false },
);

/**
 * A versioned configuration document from the hub: the devices it manages
 * on this agent (beside those of the agent's own config file).
 */
export const ConfigDocument = Type.Object(
  {
    version: Type.Integer({ minimum: 1 }),
    devices: Type.Array(RemoteDevice, { maxItems: 500 }),
  },
  { additionalProperties: false },
);
export type ConfigDocument = Static<typeof ConfigDocument>;

/**
 * Commands of the template vault, the offline cache and remote config
 * (merged into COMMANDS in commands.ts).
 */
export const VAULT_COMMANDS = {
  /** Stores templates in the agent's vault and pushes them to every device that keeps templates. */
  'templates.put': {
    params: Type.Object({ templates: Type.Array(TemplateDelivery, { minItems: 1, maxItems: 100 }) }, { additionalProperties: false }),
    result: Type.Object({ stored: Type.Array(Uuid), refused: Type.Array(Type.Object({ templateId: Uuid, reason: Type.String() })), devices: Type.Array(DeviceOutcome) }),
  },
  /** Removes templates from the vault and from every device (consent withdrawn, template deleted, no longer needed here). */
  'templates.remove': {
    params: Type.Object({ templateIds: Type.Array(Uuid, { minItems: 1, maxItems: 1000 }) }, { additionalProperties: false }),
    result: Type.Object({ removed: Type.Array(Uuid), devices: Type.Array(DeviceOutcome) }),
  },
  /** The vault's contents and per-device sync state, without template bytes. */
  'templates.status': {
    params: Type.Object({}, { additionalProperties: false }),
    result: Type.Object({ templates: Type.Array(Type.Object({ templateId: Uuid, studentId: Uuid, finger: Type.Integer() })), devices: Type.Array(DeviceOutcome) }),
  },
  /**
   * Reads a template enrolled at a device and returns it sealed for the hub's
   * intake key (never stored at the agent). The hub asks only for a student
   * whose consent is on record.
   */
  'templates.capture': {
    params: Type.Object(
      {
        deviceId: DeviceId,
        /** How the device names the person: a terminal's user id, a module's slot. */
        subject: Type.String({ minLength: 1, maxLength: 24 }),
        finger: Type.Integer({ minimum: 0, maximum: 9 }),
        templateId: Uuid,
        studentId: Uuid,
        intakePublicKey: Type.String({ minLength: 1, maxLength: 2000, description: 'the hub\'s RSA intake key, SPKI PEM' }),
      },
      { additionalProperties: false },
    ),
    result: Type.Object({ format: Type.String(), envelope: Type.String() }),
  },
  /** Today's sessions and the hub's personal-QR public key, for decisions while the hub is unreachable. */
  'offline.cache': {
    params: Type.Object(
      {
        day: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' }),
        issuedAt: Type.String({ format: 'date-time' }),
        personalQrPublicKey: Type.String({ minLength: 1, maxLength: 200, description: 'base64 SPKI DER of the hub\'s Ed25519 key' }),
        sessions: Type.Array(OfflineSession, { maxItems: 2000 }),
      },
      { additionalProperties: false },
    ),
    result: Type.Object({ sessions: Type.Integer({ minimum: 0 }), students: Type.Integer({ minimum: 0 }) }),
  },
  /**
   * Validate → stage → apply → health check → commit, or roll back to the
   * committed document. A document whose hash equals the committed one's is
   * not applied again.
   */
  'config.apply': {
    params: Type.Object({ document: ConfigDocument }, { additionalProperties: false }),
    result: Type.Object({
      outcome: Type.Union([Type.Literal('unchanged'), Type.Literal('committed'), Type.Literal('rolled_back'), Type.Literal('invalid')]),
      version: Type.Integer(),
      hash: Type.String(),
      reason: Type.Optional(Type.String()),
    }),
  },
} as const satisfies Record<string, { params: TSchema; result: TSchema }>;
