/**
 * Runs every `*.test.ts` file, each in its own process, a few at a time, and
 * prints each file's output, its duration and a closing summary line.
 *
 *   npm test                       the whole suite on PGlite
 *   TEST_DATABASE_URL=postgres://… npm test    the same suite on Postgres
 *   npm test -- hub/ agent/outbox  only files under these paths
 *   npm run soak                   the suite with acceptance tests at full size
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const ROOT = process.cwd();
const SKIP_DIRS = new Set(['node_modules', 'dist', 'data', '.tmp', '.git']);
const FILE_TIMEOUT_MS = Number(process.env.TEST_FILE_TIMEOUT_MS ?? 15 * 60_000);

function findTests(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.isDirectory()) return SKIP_DIRS.has(entry.name) ? [] : findTests(join(dir, entry.name));
    return entry.name.endsWith('.test.ts') ? [join(dir, entry.name)] : [];
  });
}

interface FileResult {
  file: string;
  ms: number;
  passed: number;
  failed: number;
  skipped: number;
  exitCode: number | null;
}

async function runFile(file: string, countsDir: string, env: NodeJS.ProcessEnv): Promise<FileResult> {
  const countsFile = join(countsDir, `${relative(ROOT, file).replace(/[\\/]/g, '_')}.txt`);
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      `--test-reporter=${join(ROOT, 'scripts/test-counter-reporter.mjs')}`,
      `--test-reporter-destination=${countsFile}`,
      file,
    ],
    { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const output: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => output.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => output.push(chunk));
  const timer = setTimeout(() => {
    output.push(Buffer.from(`\n!! ${relative(ROOT, file)} exceeded ${FILE_TIMEOUT_MS} ms and was killed\n`));
    child.kill('SIGKILL');
  }, FILE_TIMEOUT_MS);
  const exitCode = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  clearTimeout(timer);
  const ms = performance.now() - started;
  let outcomes: string[] = [];
  try {
    outcomes = readFileSync(countsFile, 'utf8').split('\n');
  } catch {
    // The file never got as far as reporting a test.
  }
  const count = (word: string) => outcomes.filter((line) => line === word).length;
  const result = { file: relative(ROOT, file), ms, passed: count('pass'), failed: count('fail'), skipped: count('skip'), exitCode };
  if (exitCode !== 0 && result.failed === 0) result.failed = 1;
  process.stdout.write(`\n━━ ${result.file} (${(ms / 1000).toFixed(1)} s)\n${Buffer.concat(output).toString()}`);
  return result;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const soak = args.includes('--soak');
  const filters = args.filter((arg) => !arg.startsWith('--')).map((arg) => join(ROOT, arg));
  const files = findTests(ROOT)
    .filter((file) => filters.length === 0 || filters.some((filter) => file.startsWith(filter)))
    .sort();
  if (files.length === 0) {
    console.error(`no test files match ${args.join(' ') || 'the suite'}`);
    process.exit(1);
  }
  const env = { ...process.env, ...(soak ? { CAMPUSHUB_SOAK: '1' } : {}) };
  const concurrency = Number(process.env.TEST_CONCURRENCY ?? Math.max(2, availableParallelism()));
  const countsDir = mkdtempSync(join(tmpdir(), 'campushub-tests-'));
  const backend = process.env.TEST_DATABASE_URL ? 'postgres' : 'pglite';
  console.log(`running ${files.length} test files, ${concurrency} at a time, database ${backend}${soak ? ', soak sizes' : ''}`);

  const queue = [...files];
  const results: FileResult[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let file = queue.shift(); file; file = queue.shift()) results.push(await runFile(file, countsDir, env));
    }),
  );
  rmSync(countsDir, { recursive: true, force: true });

  console.log('\nfile durations:');
  for (const result of [...results].sort((a, b) => b.ms - a.ms)) {
    const mark = result.failed > 0 ? 'FAIL' : 'ok  ';
    console.log(`  ${mark} ${(result.ms / 1000).toFixed(1).padStart(7)} s  ${result.file}  (${result.passed} passed, ${result.failed} failed, ${result.skipped} skipped)`);
  }
  const total = (key: 'passed' | 'failed' | 'skipped') => results.reduce((sum, result) => sum + result[key], 0);
  console.log(`\nwall time ${((performance.now() - started) / 1000).toFixed(1)} s`);
  console.log(`tests: ${total('passed')} passed, ${total('failed')} failed, ${total('skipped')} skipped`);
  process.exit(total('failed') > 0 || total('passed') === 0 ? 1 : 0);
}

await main();
