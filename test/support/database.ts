import { randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { openDb, type Db, type DbOptions } from '../../hub/db/db.js';
import { migrate, migrationsFingerprint } from '../../hub/db/migrate.js';
import { waitFor } from './wait.js';

/**
 * Each test gets its own migrated database. The schema is migrated once per
 * migrations fingerprint, then copied: a template database on Postgres
 * (`TEST_DATABASE_URL`), a copied data directory on PGlite (the default).
 */
export interface TestDatabase {
  /** How a hub (in this process or a child) opens this database. */
  options: DbOptions;
  backend: 'postgres' | 'pglite';
  open(): Promise<Db>;
  drop(): Promise<void>;
}

export const TEST_ROOT = join(process.cwd(), '.tmp');

/** A fresh database: on the Postgres at `adminUrl` (default `TEST_DATABASE_URL`), else on PGlite. */
export async function createTestDatabase(adminUrl: string | undefined = process.env.TEST_DATABASE_URL): Promise<TestDatabase> {
  const url = adminUrl;
  return url ? createPostgresDatabase(url) : createPgliteDatabase();
}

async function createPgliteDatabase(): Promise<TestDatabase> {
  const template = await pgliteTemplate();
  const dataDir = join(TEST_ROOT, `db-${randomUUID()}`);
  cpSync(template, dataDir, { recursive: true });
  return {
    options: { dataDir },
    backend: 'pglite',
    open: () => openDb({ dataDir }),
    async drop() {
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function pgliteTemplate(): Promise<string> {
  const template = join(TEST_ROOT, `pglite-template-${migrationsFingerprint()}`);
  if (existsSync(template)) return template;
  mkdirSync(TEST_ROOT, { recursive: true });
  const lock = `${template}.lock`;
  try {
    mkdirSync(lock);
  } catch {
    // Another test process is building it.
    await waitFor(() => existsSync(template), { timeoutMs: 120_000, message: `PGlite template ${template}` });
    return template;
  }
  const building = `${template}.building-${process.pid}`;
  const db = await openDb({ dataDir: building });
  await migrate(db);
  await db.close();
  renameSync(building, template);
  rmSync(lock, { recursive: true, force: true });
  return template;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

// Serializes template creation and CREATE DATABASE … TEMPLATE across test processes.
const TEMPLATE_LOCK_KEY = 4_370_361;

async function createPostgresDatabase(adminUrl: string): Promise<TestDatabase> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  const template = `campushub_tpl_${migrationsFingerprint()}`;
  const name = `campushub_test_${randomUUID().replace(/-/g, '')}`;
  try {
    await admin.query('select pg_advisory_lock($1)', [TEMPLATE_LOCK_KEY]);
    const exists = await admin.query('select 1 from pg_database where datname = $1', [template]);
    if (exists.rowCount === 0) {
      const building = `${template}_building`;
      await admin.query(`drop database if exists ${building}`);
      await admin.query(`create database ${building}`);
      const db = await openDb({ databaseUrl: withDatabase(adminUrl, building), poolSize: 1 });
      await migrate(db);
      await db.close();
      await admin.query(`alter database ${building} rename to ${template}`);
    }
    await admin.query(`create database ${name} template ${template}`);
  } finally {
    await admin.query('select pg_advisory_unlock($1)', [TEMPLATE_LOCK_KEY]).catch(() => {});
    await admin.end();
  }
  const databaseUrl = withDatabase(adminUrl, name);
  return {
    options: { databaseUrl },
    backend: 'postgres',
    open: () => openDb({ databaseUrl, poolSize: 4 }),
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`drop database if exists ${name} with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}
