import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startHub, type Hub } from '../hub/app.js';
import { hubDefaults } from '../hub/config.js';
import { createTestDatabase } from '../test/support/database.js';

export const DEFAULT_POSTGRES = 'postgres://postgres@127.0.0.1:5432/postgres';

export async function postgresReachable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

/** A throwaway key file: the hub seals its own secrets even in a benchmark. */
export function benchKeyFile(): { file: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'campushub-bench-keys-'));
  const file = join(dir, 'keys.json');
  writeFileSync(file, JSON.stringify({ active: 'k1', keys: { k1: randomBytes(32).toString('base64') } }), { mode: 0o600 });
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A hub in the benchmark's process on a database of its own (PGlite, or a
 * fresh database on BENCH_DATABASE_URL / the local Postgres): embedded broker
 * without TLS, free ports, no scheduler ticks, no logs. `close` stops it and
 * drops its database and key file.
 */
export async function startBenchHub(backend: 'pglite' | 'postgres'): Promise<{ hub: Hub; close(): Promise<void> }> {
  const database = await createTestDatabase(backend === 'postgres' ? (process.env.BENCH_DATABASE_URL ?? DEFAULT_POSTGRES) : '');
  const keys = benchKeyFile();
  const defaults = hubDefaults();
  try {
    const hub = await startHub({
      ...defaults,
      http: { ...defaults.http, host: '127.0.0.1', port: 0 },
      broker: { ...defaults.broker, port: 0, security: 'development' },
      scheduler: { ...defaults.scheduler, intervalMs: 0 },
      database: { url: database.options.databaseUrl, dataDir: database.options.dataDir },
      keys: { keyFile: keys.file },
      logLevel: 'silent',
    });
    return {
      hub,
      async close() {
        await hub.stop();
        await database.drop();
        keys.remove();
      },
    };
  } catch (error) {
    await database.drop();
    keys.remove();
    throw error;
  }
}
