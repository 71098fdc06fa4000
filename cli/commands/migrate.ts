import type { Command } from './command.js';

export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'Apply the hub\'s database migrations and exit',
  usage: 'migrate [options]',
  options: {
    'database-url': { type: 'string', env: 'DATABASE_URL', description: 'Postgres URL; without it the embedded PGlite is used' },
    'data-dir': { type: 'string', default: './data/hub', env: 'CAMPUSHUB_DATA_DIR', description: 'PGlite data directory (default ./data/hub)' },
  },
  async run(args) {
    const { runMigrate } = await import('../start/migrate.js');
    return runMigrate(args);
  },
};
