import { tabFields, type CommandResultLine } from './wire.js';

/** What a command may read and change on the simulated terminal. */
export interface TerminalState {
  readonly serialNumber: string;
  /** Users by PIN, with the fields the server sent (Name, Pri, Card, …). */
  readonly users: Map<string, Record<string, string>>;
  /** Empties the attendance log, records not yet uploaded included, as CLEAR LOG does. */
  clearLog(): void;
  readonly logSize: number;
}

export type CommandOutcome = Omit<CommandResultLine, 'id'>;

/**
 * Runs the commands it recognises; undefined leaves the command to the next
 * (older) behaviour. The terminal asks the newest behaviour first, so a test
 * overrides a default by adding one, never by editing one.
 */
export interface PushCommandBehavior {
  execute(command: string, terminal: TerminalState): CommandOutcome | undefined;
}

/** PUSH manual return codes (appendix "error codes"). */
export const RETURN = Object.freeze({ ok: 0, badParameter: -1, unsupported: -1002 });

const DATA_UPDATE_USER = /^DATA (?:UPDATE USERINFO|USER) (.*)$/;
const DATA_DELETE_USER = /^DATA DELETE USERINFO (.*)$/;

/** `DATA UPDATE USERINFO PIN=…\tName=…` (and the older `DATA USER PIN=…`) adds or replaces a user. */
export const updateUser: PushCommandBehavior = {
  execute(command, terminal) {
    const match = DATA_UPDATE_USER.exec(command);
    if (!match) return undefined;
    const fields = tabFields(match[1]!);
    if (!fields.PIN) return { returnCode: RETURN.badParameter, cmd: 'DATA' };
    terminal.users.set(fields.PIN, fields);
    return { returnCode: RETURN.ok, cmd: 'DATA' };
  },
};

export const deleteUser: PushCommandBehavior = {
  execute(command, terminal) {
    const match = DATA_DELETE_USER.exec(command);
    if (!match) return undefined;
    const pin = tabFields(match[1]!).PIN;
    if (!pin) return { returnCode: RETURN.badParameter, cmd: 'DATA' };
    terminal.users.delete(pin);
    return { returnCode: RETURN.ok, cmd: 'DATA' };
  },
};

export const clearLog: PushCommandBehavior = {
  execute(command, terminal) {
    if (command !== 'CLEAR LOG') return undefined;
    terminal.clearLog();
    return { returnCode: RETURN.ok, cmd: 'CLEAR_LOG' };
  },
};

/** Recorded only: the simulated terminal does not go away. */
export const reboot: PushCommandBehavior = {
  execute: (command) => (command === 'REBOOT' ? { returnCode: RETURN.ok, cmd: 'REBOOT' } : undefined),
};

export const info: PushCommandBehavior = {
  execute(command, terminal) {
    if (command !== 'INFO') return undefined;
    return {
      returnCode: RETURN.ok,
      cmd: 'INFO',
      details: { '~SerialNumber': terminal.serialNumber, UserCount: String(terminal.users.size), TransactionCount: String(terminal.logSize) },
    };
  },
};

/** Anything else: "device does not support". */
export const unsupported: PushCommandBehavior = {
  execute: (command) => ({ returnCode: RETURN.unsupported, cmd: command.split(' ')[0] ?? '' }),
};

/** Oldest first; the terminal asks them newest first, so `unsupported` is the last resort. */
export const DEFAULT_BEHAVIORS: readonly PushCommandBehavior[] = [unsupported, updateUser, deleteUser, clearLog, reboot, info];
