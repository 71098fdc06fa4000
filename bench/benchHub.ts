import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

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
