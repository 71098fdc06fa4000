import type { Logger } from 'pino';
import { COMMANDS, validator, type CommandOp, type CommandParams, type CommandRequest, type CommandResult, VAULT_COMMANDS } from '../protocol/index.js';
import type { Outbox } from './outbox/outbox.js';

export class CommandError extends Error {
  override readonly name = 'CommandError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

type Handlers = { [Op in CommandOp]: (params: CommandParams<Op>) => CommandResult<Op> | Promise<CommandResult<Op>> };
/** The commands of protocol/vault.ts: template vault, offline cache, remote config documents. */
export type VaultHandlers = Pick<Handlers, keyof typeof VAULT_COMMANDS>;

const paramValidators = Object.fromEntries(Object.entries(COMMANDS).map(([op, spec]) => [op, validator(spec.params)]));

/**
 * The commands an agent answers, one handler per op of protocol/commands.ts.
 * Releasing or purging quarantine happens only through here: the hub records
 * who asked and why before it sends the command.
 */
export function createCommandRunner(outbox: Outbox, logger: Logger, afterRelease: () => void, vaultHandlers: VaultHandlers) {
  const log = logger.child({ ns: 'agent:commands' });
  const handlers: Handlers = {
    ping: () => ({ agentTime: new Date().toISOString() }),
    'quarantine.list': ({ limit }) => ({ items: outbox.listQuarantine(limit) }),
    'quarantine.release': ({ ids }) => {
      const released = outbox.releaseQuarantined(ids);
      afterRelease();
      return { released };
    },
    'quarantine.purge': ({ ids }) => ({ purged: outbox.purgeQuarantined(ids) }),
    ...vaultHandlers,
  };

  return async function runCommand(request: CommandRequest): Promise<unknown> {
    const checker = paramValidators[request.op];
    const handler = handlers[request.op] as ((params: unknown) => unknown) | undefined;
    if (!checker || !handler) throw new CommandError('unknown_op', `this agent does not know ${request.op}`);
    const params = request.params ?? {};
    if (!checker.check(params)) throw new CommandError('invalid_params', `params of ${request.op}: ${checker.explain(params)}`);
    // Template envelopes, rolls and device URLs are bulky or personal: these ops are logged without params.
    log.warn({ op: request.op, transaction: request.transaction, ...(Object.hasOwn(VAULT_COMMANDS, request.op) ? {} : { params }) }, 'running a command from the hub');
    return handler(params);
  };
}
