import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Queryable } from '../../hub/db/db.js';

/** The ways a byte pattern may show up in text: raw, hex (bytea's text form), base64 and base64url. */
function spellings(pattern: Buffer): { name: string; text: string }[] {
  return [
    { name: 'hex', text: pattern.toString('hex') },
    { name: 'base64', text: pattern.toString('base64').slice(0, -4) },
    { name: 'base64url', text: pattern.toString('base64url').slice(0, -4) },
    { name: 'latin1', text: pattern.toString('latin1') },
  ];
}

/** Where `pattern` appears in `text` in any of its spellings, as `where: spelling`. */
export function findPattern(where: string, text: string, pattern: Buffer): string[] {
  return spellings(pattern)
    .filter((spelling) => text.includes(spelling.text))
    .map((spelling) => `${where}: ${spelling.name}`);
}

/** Every row of every table of the public schema, as text, searched for each pattern in one pass. */
export async function scanDatabase(db: Queryable, ...patterns: Buffer[]): Promise<string[]> {
  const { rows: tables } = await db.query<{ table_name: string }>(
    `select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name`,
  );
  const found: string[] = [];
  for (const { table_name: table } of tables) {
    const { rows } = await db.query<{ row: string }>(`select t::text as row from "${table}" t`);
    const text = rows.map((row) => row.row).join('\n');
    for (const pattern of patterns) found.push(...findPattern(`table ${table}`, text, pattern));
  }
  return found;
}

/** Every file under `dir` (SQLite databases with their WAL, keys, logs), byte for byte, searched for `pattern`. */
export function scanFiles(dir: string, pattern: Buffer): string[] {
  const found: string[] = [];
  const walk = (path: string) => {
    for (const name of readdirSync(path)) {
      const child = join(path, name);
      if (statSync(child).isDirectory()) walk(child);
      else {
        const bytes = readFileSync(child);
        if (bytes.includes(pattern)) found.push(`${child}: raw bytes`);
        found.push(...findPattern(child, bytes.toString('latin1'), pattern).filter((hit) => !hit.endsWith('latin1')));
      }
    }
  };
  walk(dir);
  return found;
}
