import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { UUID_PATTERN } from './ids.js';
import { ErrorBody, PROTOCOL_VERSION } from './schemas.js';
import { VAULT_COMMANDS } from './vault.js';

const Uuid = Type.String({ pattern: UUID_PATTERN });
const EventIds = Type.Array(Uuid, { minItems: 1, maxItems: 1000 });

/**
 * Commands the hub sends to an agent, request → response, correlated by
 * `transaction`. Each op names its params and its result; both sides import
 * this one table.
 */
export const COMMANDS = {
  ping: {
    params: Type.Object({}, { additionalProperties: false }),
    result: Type.Object({ agentTime: Type.String() }, { additionalProperties: false }),
  },
  'quarantine.list': {
    params: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }) }, { additionalProperties: false }),
    result: Type.Object(
      {
        items: Type.Array(
          Type.Object(
            { id: Type.String(), reason: Type.String(), quarantinedAt: Type.String(), body: Type.String() },
            { additionalProperties: false },
          ),
        ),
      },
      { additionalProperties: false },
    ),
  },
  /** Moves quarantined events back into the outbox, to be delivered again. */
  'quarantine.release': {
    params: Type.Object({ ids: EventIds }, { additionalProperties: false }),
    result: Type.Object({ released: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }),
  },
  /** Deletes quarantined events for good. The only way an event leaves the agent undelivered. */
  'quarantine.purge': {
    params: Type.Object({ ids: EventIds }, { additionalProperties: false }),
    result: Type.Object({ purged: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }),
  },
  ...VAULT_COMMANDS,
} as const satisfies Record<string, { params: TSchema; result: TSchema }>;

export type CommandOp = keyof typeof COMMANDS;
export type CommandParams<Op extends CommandOp> = Static<(typeof COMMANDS)[Op]['params']>;
export type CommandResult<Op extends CommandOp> = Static<(typeof COMMANDS)[Op]['result']>;
export const COMMAND_OPS = Object.keys(COMMANDS) as CommandOp[];

/** hub → agent on `cmd/req`. Params are validated against the op's schema by the receiver. */
export const CommandRequest = Type.Object(
  {
    v: Type.Literal(PROTOCOL_VERSION),
    transaction: Uuid,
    op: Type.Union(COMMAND_OPS.map((op) => Type.Literal(op))),
    params: Type.Unknown(),
    sentAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
export type CommandRequest<Op extends CommandOp = CommandOp> = Omit<Static<typeof CommandRequest>, 'op' | 'params'> & {
  op: Op;
  params: CommandParams<Op>;
};

/** agent → hub on `cmd/res`. */
export const CommandResponse = Type.Object(
  {
    v: Type.Literal(PROTOCOL_VERSION),
    transaction: Uuid,
    op: Type.String({ maxLength: 64 }),
    status: Type.Union([Type.Literal('ok'), Type.Literal('error')]),
    result: Type.Optional(Type.Unknown()),
    error: Type.Optional(ErrorBody),
  },
  { additionalProperties: false },
);
export type CommandResponse = Static<typeof CommandResponse>;
