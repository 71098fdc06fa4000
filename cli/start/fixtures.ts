import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateCampus, importFiles, type GeneratedFile } from '../../fixtures/generate.js';
import type { AuditContext } from '../../hub/audit/append.js';
import type { Db } from '../../hub/db/db.js';
import { runImport } from '../../hub/import/run.js';
import { migrate } from '../../hub/db/migrate.js';
import type { ParsedArgs } from '../commands/command.js';
import { integerArg, stringArg, UsageError } from './args.js';
import { importFile, openImportDb } from './import.js';

/**
 * Imports generated files straight from memory, in order, each all or
 * nothing. The demo and the benchmarks load their campus this way.
 */
export async function loadGeneratedFiles(db: Db, files: readonly GeneratedFile[], audit: AuditContext): Promise<void> {
  for (const file of files) {
    const format = file.name.endsWith('.json') ? 'json' : 'csv';
    await runImport(db, { kind: file.kind, format, body: format === 'json' ? (JSON.parse(file.content) as unknown) : file.content }, { audit });
  }
}

export async function runFixtures(args: ParsedArgs): Promise<number> {
  if (args.positionals[0] !== 'generate') throw new UsageError(`unknown action ${JSON.stringify(args.positionals[0] ?? '')}; the only action is generate`);
  const students = integerArg(args, 'students', 1, 200_000);
  const seed = integerArg(args, 'seed', 0, 2 ** 32 - 1);
  const out = stringArg(args, 'out') ?? './data/fixtures';
  const files = importFiles(generateCampus({ students, seed, demoHours: args.values['demo-hours'] === true }));
  mkdirSync(out, { recursive: true });
  for (const file of files) writeFileSync(join(out, file.name), file.content);
  console.log(JSON.stringify({ out, files: files.map((file) => file.name) }));
  if (args.values.load !== true) return 0;
  const db = await openImportDb(args);
  try {
    await migrate(db);
    for (const file of files) {
      const result = await importFile(db, file.kind, join(out, file.name), {});
      if (!result) return 1;
      console.log(JSON.stringify({ file: file.name, ...result }));
    }
    return 0;
  } finally {
    await db.close();
  }
}
