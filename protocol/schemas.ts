import { Type, type Static } from '@sinclair/typebox';
import { UUID_PATTERN } from './ids.js';
import { ID_PATTERN } from './topics.js';

/** Version of the message schemas below; carried in every message as `v`. */
export const PROTOCOL_VERSION = 1;

/** Largest message either side accepts, in bytes. A full batch of taps is far below it. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;
/** Most events in one batch. */
export const MAX_BATCH_EVENTS = 1000;

const Uuid = Type.String({ pattern: UUID_PATTERN, description: 'UUIDv7, made by the agent' });
const Id = Type.String({ pattern: ID_PATTERN });
const Timestamp = Type.String({ format: 'date-time', maxLength: 40, description: 'ISO 8601 with offset' });
const Version = Type.Literal(PROTOCOL_VERSION);

/** How a person was identified at the door. */
export const TAP_METHODS = ['qr', 'fingerprint', 'card', 'face', 'pin', 'password'] as const;
export const TapMethod = Type.Union(TAP_METHODS.map((method) => Type.Literal(method)));
export type TapMethod = (typeof TAP_METHODS)[number];

/**
 * One identification at a door: a QR code scanned, or a person identified by a
 * terminal. `subject` is what the device knows the person by (the QR payload,
 * or the user id enrolled on the terminal); the hub maps it to a student.
 */
export const TapEvent = Type.Object(
  {
    id: Uuid,
    kind: Type.Literal('tap'),
    deviceId: Id,
    method: TapMethod,
    subject: Type.String({ minLength: 1, maxLength: 256 }),
    deviceTime: Type.Union([Timestamp, Type.Null()], { description: 'the device clock, when the device reports one' }),
    receivedAt: Timestamp,
    deviceKey: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'stable key of a device log record, for devices with logs' }),
    ),
    score: Type.Optional(Type.Number({ minimum: 0, maximum: 100000 })),
    clockSuspect: Type.Optional(
      Type.Literal(true, { description: 'the device clock was more than 5 minutes off when it stamped this tap; deviceTime is kept as stamped' }),
    ),
  },
  { additionalProperties: false },
);
export type TapEvent = Static<typeof TapEvent>;

/** The events an agent delivers. Only taps for now; enrolments and telemetry join this union. */
export const AgentEvent = TapEvent;
export type AgentEvent = TapEvent;

/**
 * A batch of events, agent → hub, QoS 1. The envelope is validated as a whole;
 * each event is validated on its own, so that one bad event is rejected by id
 * while the rest of its batch commits.
 */
export const EventBatch = Type.Object(
  {
    v: Version,
    batchId: Uuid,
    sentAt: Timestamp,
    events: Type.Array(Type.Object({ id: Type.Unknown() }, { additionalProperties: true }), {
      minItems: 1,
      maxItems: MAX_BATCH_EVENTS,
    }),
  },
  { additionalProperties: false },
);
export type EventBatch = Static<typeof EventBatch>;

export const Rejection = Type.Object(
  {
    id: Uuid,
    reason: Type.String({ maxLength: 1000 }),
  },
  { additionalProperties: false },
);
export type Rejection = Static<typeof Rejection>;

/**
 * The application-level acknowledgement, hub → agent, sent only after the
 * hub's database transaction has committed. `committed` lists every event of
 * the batch that is now durably in the database, including ones that were
 * already there (redeliveries). The agent deletes exactly these and moves
 * `rejected` events to its quarantine.
 */
export const Ack = Type.Object(
  {
    v: Version,
    batchId: Uuid,
    committed: Type.Array(Uuid, { maxItems: MAX_BATCH_EVENTS }),
    rejected: Type.Array(Rejection, { maxItems: MAX_BATCH_EVENTS }),
    hubTime: Timestamp,
  },
  { additionalProperties: false },
);
export type Ack = Static<typeof Ack>;

/** Retained; the agent's Last Will publishes the offline form. */
export const AgentStatus = Type.Object(
  {
    v: Version,
    state: Type.Union([Type.Literal('online'), Type.Literal('offline')]),
    agentId: Id,
    campusId: Id,
    since: Timestamp,
    version: Type.String({ maxLength: 64 }),
  },
  { additionalProperties: false },
);
export type AgentStatus = Static<typeof AgentStatus>;

export const DeviceHealth = Type.Object(
  {
    id: Id,
    kind: Type.String({ maxLength: 64 }),
    state: Type.String({ maxLength: 32 }),
    lastSeenAt: Type.Union([Timestamp, Type.Null()]),
  },
  { additionalProperties: false },
);

/** Retained; published on change and periodically. */
export const AgentHealth = Type.Object(
  {
    v: Version,
    at: Timestamp,
    outbox: Type.Object(
      {
        depth: Type.Integer({ minimum: 0 }),
        oldestAgeMs: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
        inFlight: Type.Integer({ minimum: 0 }),
      },
      { additionalProperties: false },
    ),
    quarantine: Type.Object({ count: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }),
    devices: Type.Array(DeviceHealth, { maxItems: 1000 }),
    /** The outbox's disk budget: `alarm` from 80%, `full` stops reading device logs, `exhausted` refuses taps. */
    disk: Type.Optional(
      Type.Object(
        {
          level: Type.Union([Type.Literal('ok'), Type.Literal('alarm'), Type.Literal('full'), Type.Literal('exhausted')]),
          usedBytes: Type.Integer({ minimum: 0 }),
          maxBytes: Type.Integer({ minimum: 0 }),
          filesystemFreeBytes: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
        },
        { additionalProperties: false },
      ),
    ),
    /** Device clock offsets (device minus agent, ms); `flagged` past 5 minutes. */
    clocks: Type.Optional(
      Type.Array(
        Type.Object({ deviceId: Id, offsetMs: Type.Integer(), measuredAt: Timestamp, flagged: Type.Boolean() }, { additionalProperties: false }),
        { maxItems: 1000 },
      ),
    ),
    /** Versions of the agent's software and the protocol it speaks. */
    versions: Type.Optional(
      Type.Object({ software: Type.String({ maxLength: 64 }), protocol: Type.Integer(), node: Type.String({ maxLength: 64 }) }, { additionalProperties: false }),
    ),
  },
  { additionalProperties: false },
);
export type AgentHealth = Static<typeof AgentHealth>;

/**
 * Delivery watermarks: for each door device, every event it made up to
 * `upTo` (device time) has been delivered to the hub and acknowledged. The hub
 * finalizes a closed session once every device of its room is past the
 * session's end plus a grace period.
 */
export const SyncWatermarks = Type.Object(
  {
    v: Version,
    at: Timestamp,
    devices: Type.Array(Type.Object({ deviceId: Id, upTo: Timestamp }, { additionalProperties: false }), { minItems: 1, maxItems: 1000 }),
  },
  { additionalProperties: false },
);
export type SyncWatermarks = Static<typeof SyncWatermarks>;

/** The error shape both sides use in responses. */
export const ErrorBody = Type.Object(
  { code: Type.String({ maxLength: 64 }), message: Type.String({ maxLength: 2000 }) },
  { additionalProperties: false },
);
export type ErrorBody = Static<typeof ErrorBody>;

/** The release of this software, reported in status and health; a test keeps it equal to package.json. */
export const SOFTWARE_VERSION = '0.1.0';
