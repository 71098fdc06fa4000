import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Db } from './db.js';

export interface Migration {
  /** File name without extension, e.g. `0001_events`. Applied in name order. */
  name: string;
  sql: string;
}

/**
 * The SQL files ship beside this module in the source tree. A tsup bundle
 * lives elsewhere (dist/), so look upwards from wherever this code runs for
 * the repository's hub/db/migrations.
 */
function findMigrationsDir(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    for (const candidate of [join(dir, 'migrations'), join(dir, 'hub/db/migrations')]) {
      if (existsSync(join(candidate, '0001_events.sql'))) return candidate;
    }
    if (dirname(dir) === dir) throw new Error('hub/db/migrations not found above ' + fileURLToPath(import.meta.url));
  }
}

export function loadMigrations(dir: string = findMigrationsDir()): Migration[] {
  return readdirSync(dir)
    .filter((file) => /^\d{4}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => ({ name: file.replace(/\.sql$/, ''), sql: readFileSync(`${dir}/${file}`, 'utf8') }));
}

/** A hash of every migration's name and text: equal hashes mean equal schemas. */
export function migrationsFingerprint(migrations: Migration[] = loadMigrations()): string {
  const hash = createHash('sha256');
  for (const migration of migrations) hash.update(migration.name).update('\0').update(migration.sql).update('\0');
  return hash.digest('hex').slice(0, 16);
}

// Any fixed key works; it only has to be the same for every hub process.
const MIGRATION_LOCK_KEY = 4_370_360;

/**
 * Applies the migrations not yet applied, each in its own transaction. Two hubs
 * starting at once serialize on an advisory lock, so each migration runs once.
 * Returns the names applied.
 */
export async function migrate(db: Db, migrations: Migration[] = loadMigrations()): Promise<string[]> {
  return db.transaction(async (tx) => {
    await tx.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await tx.query(
      `create table if not exists schema_migrations (
         name text primary key,
         applied_at timestamptz not null default now()
       )`,
    );
    const { rows } = await tx.query<{ name: string }>('select name from schema_migrations');
    const applied = new Set(rows.map((row) => row.name));
    const pending = migrations.filter((migration) => !applied.has(migration.name));
    for (const migration of pending) {
      await tx.execScript(migration.sql);
      await tx.query('insert into schema_migrations (name) values ($1)', [migration.name]);
    }
    return pending.map((migration) => migration.name);
  });
}
