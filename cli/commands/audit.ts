import type { Command } from './command.js';

export const AUDIT_ACTIONS = ['verify'] as const;

export const auditCommand: Command = {
  name: 'audit',
  summary: 'Check the audit log: verify recomputes its hash chain and names the first entry that breaks it',
  usage: 'audit verify [options]',
  positionals: [{ name: 'action', description: 'verify: recompute the hash chain; exit 0 when intact, 1 when broken, 3 when it could not be checked', required: true }],
  options: {
    'database-url': { type: 'string', env: 'DATABASE_URL', description: 'Postgres URL; without it the embedded PGlite is used' },
    'data-dir': { type: 'string', default: './data/hub', env: 'CAMPUSHUB_DATA_DIR', description: 'PGlite data directory (default ./data/hub)' },
    'checkpoint-dir': { type: 'string', env: 'CAMPUSHUB_AUDIT_CHECKPOINT_DIR', description: 'Signed checkpoints to check the chain against, which catches a truncated tail (default <data-dir>/audit/checkpoints when it exists)' },
    'checkpoint-key': { type: 'string', env: 'CAMPUSHUB_AUDIT_CHECKPOINT_KEY', description: 'The checkpoint key, public or private PEM (default <data-dir>/audit/checkpoint-key.pem)' },
    json: { type: 'boolean', default: false, description: 'Print one JSON line instead of text' },
  },
  async run(args) {
    const { runAudit } = await import('../start/audit.js');
    return runAudit(args);
  },
};
