import { openDb } from '../../hub/db/db.js';
import { migrate } from '../../hub/db/migrate.js';
import type { ParsedArgs } from '../commands/command.js';
import { stringArg } from './args.js';

export async function runMigrate(args: ParsedArgs): Promise<number> {
  const databaseUrl = stringArg(args, 'database-url');
  const db = await openDb({ databaseUrl, dataDir: databaseUrl ? undefined : (stringArg(args, 'data-dir') ?? './data/hub') });
  try {
    const applied = await migrate(db);
    console.log(applied.length > 0 ? `applied ${applied.length} migration(s): ${applied.join(', ')}` : 'database is up to date');
    return 0;
  } finally {
    await db.close();
  }
}
