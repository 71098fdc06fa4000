import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkDependencies, formatViolation } from './check-deps.js';

/** A small project: one module per part, the root package's name and aliases, and whatever files the test adds. */
function project(t: TestContext, files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'check-deps-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const all: Record<string, string> = {
    'package.json': JSON.stringify({
      name: 'campushub360-attendance',
      type: 'module',
      imports: { '#drivers/*': './drivers/*', '#protocol': { types: './protocol/index.ts', default: './protocol/index.js' } },
    }),
    // Comments and trailing commas, as tsconfig files have them.
    'tsconfig.json': '{\n  // aliases\n  "compilerOptions": { "paths": { "@drivers/*": ["drivers/*"], "~hub": ["hub/app.ts"], }, },\n}\n',
    'protocol/index.ts': 'export const VERSION = 1;\n',
    'drivers/qr.ts': "import { VERSION } from '../protocol/index.js';\nexport const qr = VERSION;\n",
    'agent/agent.ts': "import { qr } from '../drivers/qr.js';\nexport const agent = qr;\n",
    'hub/app.ts': "import { VERSION } from '../protocol/index.js';\nexport const hub = VERSION;\n",
    'fixtures/students.ts': "export const students = ['s-1'];\n",
    'simulators/qr.ts': "import { students } from '../fixtures/students.js';\nexport const codes = students;\n",
    ...files,
  };
  for (const [path, text] of Object.entries(all)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

/** Violations as `file:line from→to specifier`, to compare whole lists at a glance. */
function violations(t: TestContext, files: Record<string, string>): string[] {
  return checkDependencies(project(t, files)).map((v) => `${v.file}:${v.line} ${v.from}→${v.to} ${v.specifier}`);
}

test('the small project the other tests build on has no violations of its own', (t) => {
  assert.deepEqual(violations(t, {}), []);
});

test('a static import against the rules fails, with file, line, parts, specifier and rule', (t) => {
  const root = project(t, { 'hub/bad.ts': "import { VERSION } from '../protocol/index.js';\nimport { agent } from '../agent/agent.js';\nexport const x = [VERSION, agent];\n" });
  const found = checkDependencies(root);
  assert.deepEqual(found, [{ file: 'hub/bad.ts', line: 2, specifier: '../agent/agent.js', from: 'hub', to: 'agent', rule: 'hub imports protocol only' }]);
  assert.equal(formatViolation(found[0]!), 'hub/bad.ts:2  hub → agent  "../agent/agent.js"  (hub imports protocol only)');
});

test('a side-effect import against the rules fails', (t) => {
  assert.deepEqual(violations(t, { 'drivers/bad.ts': "import '../hub/app.js';\n" }), ['drivers/bad.ts:1 drivers→hub ../hub/app.js']);
});

test('a type-only import against the rules fails, in import type, inline type and import() type form', (t) => {
  const found = violations(t, {
    'hub/bad.ts': [
      "import type { agent } from '../agent/agent.js';",
      "import { type qr } from '../drivers/qr.js';",
      "export type Agent = typeof import('../agent/agent.js').agent;",
      'export type Both = [typeof agent, typeof qr];',
    ].join('\n'),
  });
  assert.deepEqual(found, ['hub/bad.ts:1 hub→agent ../agent/agent.js', 'hub/bad.ts:2 hub→drivers ../drivers/qr.js', 'hub/bad.ts:3 hub→agent ../agent/agent.js']);
});

test('a dynamic import() of a string literal against the rules fails, and one of a computed name cannot be verified and fails too', (t) => {
  const found = violations(t, {
    'hub/bad.ts': [
      "export const load = () => import('../agent/agent.js');",
      'export const loadTemplate = () => import(`../drivers/qr.js`);',
      "export const loadComputed = (name: string) => import('../' + name);",
    ].join('\n'),
  });
  assert.deepEqual(found, ['hub/bad.ts:1 hub→agent ../agent/agent.js', 'hub/bad.ts:2 hub→drivers ../drivers/qr.js', "hub/bad.ts:3 hub→? '../' + name"]);
});

test('a re-export against the rules fails, named or star', (t) => {
  const found = violations(t, { 'fixtures/bad.ts': "export { hub } from '../hub/app.js';\nexport * from '../drivers/qr.js';\n" });
  assert.deepEqual(found, ['fixtures/bad.ts:1 fixtures→hub ../hub/app.js', 'fixtures/bad.ts:2 fixtures→drivers ../drivers/qr.js']);
});

test('a require() against the rules fails, as a call and as import = require', (t) => {
  const found = violations(t, {
    'hub/bad.cjs': "const { agent } = require('../agent/agent.js');\nmodule.exports = agent;\n",
    'hub/bad.cts': "import drivers = require('../drivers/qr.js');\nexport = drivers;\n",
  });
  assert.deepEqual(found, ['hub/bad.cjs:1 hub→agent ../agent/agent.js', 'hub/bad.cts:1 hub→drivers ../drivers/qr.js']);
});

test('an import by workspace package name or by the root package name resolves to its folder and fails against the rules', (t) => {
  const found = violations(t, {
    'hub/bad.ts': [
      "import '@campushub/agent';",
      "import 'campushub-drivers/qr.js';",
      "import 'campushub360-attendance/agent/agent.js';",
      "import '@campushub/protocol';",
    ].join('\n'),
  });
  assert.deepEqual(found, [
    'hub/bad.ts:1 hub→agent @campushub/agent',
    'hub/bad.ts:2 hub→drivers campushub-drivers/qr.js',
    'hub/bad.ts:3 hub→agent campushub360-attendance/agent/agent.js',
  ]);
});

test('an import through a tsconfig.json paths alias resolves to its folder and fails against the rules', (t) => {
  const found = violations(t, { 'hub/bad.ts': "import { qr } from '@drivers/qr.js';\nexport const x = qr;\n", 'protocol/bad.ts': "import { hub } from '~hub';\nexport const y = hub;\n" });
  assert.deepEqual(found, ['hub/bad.ts:1 hub→drivers @drivers/qr.js', 'protocol/bad.ts:1 protocol→hub ~hub']);
});

test('a tsconfig.json paths alias relative to baseUrl, and a bare name under baseUrl, resolve to their folders', (t) => {
  const found = violations(t, {
    'tsconfig.json': JSON.stringify({ compilerOptions: { baseUrl: './src', paths: { '@app/*': ['../*'] } } }),
    'hub/bad.ts': "import '@app/agent/agent.js';\nimport 'agent/agent.js';\n",
    'src/agent/agent.ts': 'export {};\n',
  });
  assert.deepEqual(found, ['hub/bad.ts:1 hub→agent @app/agent/agent.js', 'hub/bad.ts:2 hub→src agent/agent.js']);
});

test('an import through a package.json imports alias resolves to its folder and fails against the rules, conditional targets included', (t) => {
  const found = violations(t, {
    'package.json': JSON.stringify({ name: 'campushub360-attendance', imports: { '#drivers/*': './drivers/*', '#hub': { types: './hub/app.ts', default: './hub/app.js' }, '#protocol': './protocol/index.js' } }),
    'simulators/bad.ts': "import { qr } from '#drivers/qr.js';\nimport { hub } from '#hub';\nimport { VERSION } from '#protocol';\nexport const x = [qr, hub, VERSION];\n",
  });
  assert.deepEqual(found, ['simulators/bad.ts:1 simulators→drivers #drivers/qr.js', 'simulators/bad.ts:2 simulators→hub #hub']);
});

test('simulators never import drivers, fixtures never import hub, hub never imports agent', (t) => {
  const found = violations(t, {
    'simulators/bad.ts': "import '../drivers/qr.js';\n",
    'fixtures/bad.ts': "import '../hub/app.js';\n",
    'hub/bad.ts': "import '../agent/agent.js';\n",
  });
  assert.deepEqual(found, ['fixtures/bad.ts:1 fixtures→hub ../hub/app.js', 'hub/bad.ts:1 hub→agent ../agent/agent.js', 'simulators/bad.ts:1 simulators→drivers ../drivers/qr.js']);
});

test('protocol imports nothing of ours: no part, no root-level file, not even fixtures', (t) => {
  const found = violations(t, {
    'protocol/bad.ts': [
      "import '../fixtures/students.js';",
      "import '../drivers/qr.js';",
      "import '../tsup.config.js';",
      "import { readFileSync } from 'node:fs';",
      "import 'some-npm-package';",
      'export const r = readFileSync;',
    ].join('\n'),
    'tsup.config.ts': 'export default {};\n',
  });
  assert.deepEqual(found, ['protocol/bad.ts:1 protocol→fixtures ../fixtures/students.js', 'protocol/bad.ts:2 protocol→drivers ../drivers/qr.js', 'protocol/bad.ts:3 protocol→(root) ../tsup.config.js']);
});

test('every source extension is parsed: .ts, .tsx, .js, .mjs, .cts and .mts', (t) => {
  const found = violations(t, {
    'hub/a.ts': "import '../agent/agent.js';\n",
    'hub/b.tsx': "import { agent } from '../agent/agent.js';\nexport const View = () => <div>{agent}</div>;\n",
    'hub/c.js': "import '../agent/agent.js';\n",
    'hub/d.mjs': "import '../agent/agent.js';\n",
    'hub/e.cts': "import '../agent/agent.js';\n",
    'hub/f.mts': "import '../agent/agent.js';\n",
  });
  assert.deepEqual(
    found,
    ['a.ts', 'b.tsx', 'c.js', 'd.mjs', 'e.cts', 'f.mts'].map((name) => `hub/${name}:1 hub→agent ../agent/agent.js`),
  );
});

test('allowed imports pass: agent → drivers and protocol, simulators → fixtures, cli and bench → anything, test files anywhere', (t) => {
  const found = violations(t, {
    'agent/uses.ts': "import '../drivers/qr.js';\nimport '#protocol';\nimport '@drivers/qr.js';\n",
    'simulators/uses.ts': "import '../fixtures/students.js';\nimport '../protocol/index.js';\n",
    'cli/main.ts': "import '../hub/app.js';\nimport '../agent/agent.js';\nimport '../simulators/qr.js';\nexport const load = (name: string) => import(name);\n",
    'bench/run.ts': "import '../hub/app.js';\nimport '../drivers/qr.js';\n",
    'hub/app.test.ts': "import '../agent/agent.js';\nimport '../test/support.js';\n",
    'protocol/schemas.test.ts': "import '../hub/app.js';\n",
    'test/support.ts': "import '../hub/app.js';\nimport '../agent/agent.js';\n",
  });
  assert.deepEqual(found, []);
});

test('node_modules, dist, data and .tmp folders are not checked', (t) => {
  const bad = "import '../../agent/agent.js';\n";
  assert.deepEqual(violations(t, { 'hub/node_modules/x.js': bad, 'hub/dist/x.js': bad, 'hub/data/x.ts': bad, 'hub/.tmp/x.ts': bad }), []);
});

test('the command prints each violation and exits 1, or prints one OK line and exits 0', async (t) => {
  const script = fileURLToPath(new URL('./check-deps.ts', import.meta.url));
  const run = (root: string) =>
    new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const child = execFile(process.execPath, ['--import', 'tsx', script, root], (_error, stdout) => resolve({ code: child.exitCode, stdout }));
    });
  const [bad, good] = await Promise.all([run(project(t, { 'hub/bad.ts': "import '../agent/agent.js';\n" })), run(project(t, {}))]);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /^hub\/bad\.ts:1 {2}hub → agent {2}"\.\.\/agent\/agent\.js" {2}\(hub imports protocol only\)$/m);
  assert.equal(good.code, 0);
  assert.match(good.stdout, /^check-deps: OK, \d+ files/);
  assert.equal(good.stdout.trim().split('\n').length, 1);
});

test('this repository has no imports against the dependency rules', () => {
  assert.deepEqual(checkDependencies(process.cwd()).map(formatViolation), []);
});
