import { agentCommand, agentDiscardCommand, agentStatusCommand } from './agent.js';
import { auditCommand } from './audit.js';
import { agentEnrollCommand } from './agentEnroll.js';
import type { Command } from './command.js';
import { demoCommand } from './demo.js';
import { deviceCommand } from './device.js';
import { fixturesCommand } from './fixtures.js';
import { hubCommand } from './hub.js';
import { importCommand } from './import.js';
import { keysCommand } from './keys.js';
import { migrateCommand } from './migrate.js';
import { simCommand } from './sim.js';
import { usersCommand } from './users.js';

/** Every `campushub` subcommand, in the order --help lists them. */
export const COMMANDS: readonly Command[] = [
  hubCommand,
  agentCommand,
  agentEnrollCommand,
  agentStatusCommand,
  agentDiscardCommand,
  simCommand,
  deviceCommand,
  demoCommand,
  migrateCommand,
  usersCommand,
  importCommand,
  fixturesCommand,
  keysCommand,
  auditCommand,
];
