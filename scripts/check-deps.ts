/**
 * Fails when a part of the project imports a part it must not (docs/architecture.md,
 * "Dependency direction"). Every import form is resolved to a file path first, so that
 * relative paths, package names and aliases cannot route around a rule.
 *
 *   node --import tsx scripts/check-deps.ts [rootDir]
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

export interface Violation {
  /** Relative to the checked root, with forward slashes. */
  file: string;
  line: number;
  specifier: string;
  from: string;
  /** The part the specifier resolves to, or `?` for an import whose target cannot be known. */
  to: string;
  rule: string;
}

/**
 * The parts with rules; each may import itself and the parts listed. Everything else
 * (cli, bench, scripts, test, and test files anywhere) may import anything.
 */
const RULES: Record<string, { mayImport: readonly string[]; rule: string }> = {
  protocol: { mayImport: [], rule: 'protocol imports nothing of ours' },
  drivers: { mayImport: ['protocol'], rule: 'drivers import protocol only' },
  agent: { mayImport: ['protocol', 'drivers'], rule: 'agent imports protocol and drivers only' },
  hub: { mayImport: ['protocol'], rule: 'hub imports protocol only' },
  simulators: { mayImport: ['protocol', 'fixtures'], rule: 'simulators never import drivers, only protocol and fixtures' },
  fixtures: { mayImport: ['protocol'], rule: 'fixtures import protocol at most' },
};
const PARTS = new Set([...Object.keys(RULES), 'cli', 'bench', 'scripts', 'test']);
const ROOT_PART = '(root)';
const SKIP_DIRS = new Set(['node_modules', 'dist', 'data', '.tmp', '.git']);
const SOURCE_FILE = /\.(?:[cm]?[jt]s|[jt]sx)$/;
// Test files, and the per-domain route-matrix cases (`*.cases.ts`) that only tests import.
const TEST_FILE = /\.(?:test|cases)\.(?:[cm]?[jt]s|[jt]sx)$/;
const WORKSPACE_PACKAGE = /^(?:@campushub\/|campushub-)([^/]+)(\/.*)?$/;

interface Aliases {
  root: string;
  packageName: string | undefined;
  packageImports: Record<string, unknown>;
  tsPaths: Record<string, string[]>;
  tsPathsBase: string;
  tsBaseUrl: string | undefined;
}

function readAliases(root: string): Aliases {
  const packageFile = join(root, 'package.json');
  const pkg = existsSync(packageFile) ? (JSON.parse(readFileSync(packageFile, 'utf8')) as { name?: string; imports?: Record<string, unknown> }) : {};
  let options: ts.CompilerOptions = {};
  const tsconfigFile = join(root, 'tsconfig.json');
  if (existsSync(tsconfigFile)) {
    const { config, error } = ts.readConfigFile(tsconfigFile, ts.sys.readFile);
    if (error) throw new Error(`${tsconfigFile}: ${ts.flattenDiagnosticMessageText(error.messageText, '\n')}`);
    // Follows `extends` and makes baseUrl absolute; errors about the file list do not matter here.
    options = ts.parseJsonConfigFileContent(config, ts.sys, root, undefined, tsconfigFile).options;
  }
  const pathsBasePath = typeof options.pathsBasePath === 'string' ? options.pathsBasePath : undefined;
  return {
    root,
    packageName: pkg.name,
    packageImports: pkg.imports ?? {},
    tsPaths: options.paths ?? {},
    tsPathsBase: options.baseUrl ?? pathsBasePath ?? root,
    tsBaseUrl: options.baseUrl,
  };
}

/** The entry for `specifier` among exact keys and single-`*` patterns, preferring the longest prefix as TypeScript and Node do. */
function matchPattern<T>(patterns: Record<string, T>, specifier: string): { value: T; star: string } | undefined {
  if (Object.hasOwn(patterns, specifier)) return { value: patterns[specifier]!, star: '' };
  let best: { value: T; star: string; prefixLength: number } | undefined;
  for (const [pattern, value] of Object.entries(patterns)) {
    const starAt = pattern.indexOf('*');
    if (starAt < 0) continue;
    const prefix = pattern.slice(0, starAt);
    const suffix = pattern.slice(starAt + 1);
    if (specifier.length < prefix.length + suffix.length || !specifier.startsWith(prefix) || !specifier.endsWith(suffix)) continue;
    if (!best || prefix.length > best.prefixLength) best = { value, star: specifier.slice(prefix.length, specifier.length - suffix.length), prefixLength: prefix.length };
  }
  return best;
}

/** Every target of a package.json `imports` entry, across all conditions. */
function importTargets(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(importTargets);
  if (value && typeof value === 'object') return Object.values(value).flatMap(importTargets);
  return [];
}

/** Whether a module path exists as written, as its TypeScript source (`.js` → `.ts`), with an extension added, or as a folder. */
function moduleExists(path: string): boolean {
  const candidates = [path, path.replace(/\.([cm]?)js(x?)$/, '.$1ts$2'), ...['.ts', '.tsx', '.js', '.mts', '.cts', '.mjs', '.cjs'].map((ext) => path + ext)];
  return candidates.some((candidate) => existsSync(candidate));
}

/** The absolute paths a specifier can load; empty for modules outside the project (Node built-ins, npm packages). */
function resolveSpecifier(specifier: string, fromDir: string, aliases: Aliases): string[] {
  if (specifier === '.' || specifier === '..' || specifier.startsWith('./') || specifier.startsWith('../') || specifier.startsWith('/')) return [resolve(fromDir, specifier)];
  if (specifier.startsWith('file:')) return [fileURLToPath(specifier)];
  if (specifier.startsWith('#')) {
    const match = matchPattern(aliases.packageImports, specifier);
    if (!match) return [];
    return importTargets(match.value).flatMap((target) => {
      const substituted = target.replaceAll('*', match.star);
      return substituted.startsWith('./') ? [resolve(aliases.root, substituted)] : resolveSpecifier(substituted, aliases.root, aliases);
    });
  }
  const pathsMatch = matchPattern(aliases.tsPaths, specifier);
  if (pathsMatch) {
    // TypeScript takes the first target that exists; when none does, the first says where the import meant to go.
    const candidates = pathsMatch.value.map((target) => resolve(aliases.tsPathsBase, target.replaceAll('*', pathsMatch.star)));
    return [candidates.find(moduleExists) ?? candidates[0]!];
  }
  const workspace = WORKSPACE_PACKAGE.exec(specifier);
  if (workspace) return [join(aliases.root, workspace[1]!, workspace[2] ?? '')];
  if (aliases.packageName && (specifier === aliases.packageName || specifier.startsWith(`${aliases.packageName}/`))) {
    return [join(aliases.root, specifier.slice(aliases.packageName.length))];
  }
  if (aliases.tsBaseUrl) {
    const underBaseUrl = resolve(aliases.tsBaseUrl, specifier);
    if (moduleExists(underBaseUrl)) return [underBaseUrl];
  }
  return [];
}

/** The part a path belongs to, or undefined when it is not ours (outside the root, or a dependency). */
function partOf(path: string, root: string): string | undefined {
  const rel = relative(root, path);
  if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) return undefined;
  if (rel === '') return ROOT_PART;
  const [first = ''] = rel.split(sep);
  if (first === 'node_modules') return undefined;
  if (rel.includes(sep) || PARTS.has(first)) return first;
  return existsSync(path) && statSync(path).isDirectory() ? first : ROOT_PART;
}

interface ImportSite {
  specifier: string;
  line: number;
  /** False for `import(expr)` and `require(expr)`, whose target is only known at run time. */
  literal: boolean;
}

function importSites(file: string, text: string): ImportSite[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const sites: ImportSite[] = [];
  const add = (node: ts.Node, specifier: string, literal = true) =>
    sites.push({ specifier, literal, line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1 });
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node, node.moduleSpecifier.text);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference) && ts.isStringLiteral(node.moduleReference.expression)) {
      add(node, node.moduleReference.expression.text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      add(node, node.argument.literal.text);
    } else if (ts.isCallExpression(node) && (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === 'require'))) {
      const [argument] = node.arguments;
      if (argument && ts.isStringLiteralLike(argument)) add(node, argument.text);
      else add(node, argument ? argument.getText(source) : '', false);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return sites;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.isDirectory()) return SKIP_DIRS.has(entry.name) ? [] : sourceFiles(join(dir, entry.name));
    return entry.isFile() && SOURCE_FILE.test(entry.name) && !TEST_FILE.test(entry.name) ? [join(dir, entry.name)] : [];
  });
}

function inspect(rootDir: string): { violations: Violation[]; filesChecked: number } {
  const root = resolve(rootDir);
  const aliases = readAliases(root);
  const violations: Violation[] = [];
  let filesChecked = 0;
  for (const [from, { mayImport, rule }] of Object.entries(RULES)) {
    const partDir = join(root, from);
    if (!existsSync(partDir)) continue;
    const allowed = new Set([from, ...mayImport]);
    for (const file of sourceFiles(partDir)) {
      filesChecked++;
      const fileName = relative(root, file).split(sep).join('/');
      for (const site of importSites(file, readFileSync(file, 'utf8'))) {
        if (!site.literal) {
          violations.push({ file: fileName, line: site.line, specifier: site.specifier, from, to: '?', rule: `${from} loads modules by string literal only, so the target can be checked` });
          continue;
        }
        const targets = new Set(resolveSpecifier(site.specifier, dirname(file), aliases).map((path) => partOf(path, root)));
        for (const to of targets) {
          if (to !== undefined && !allowed.has(to)) violations.push({ file: fileName, line: site.line, specifier: site.specifier, from, to, rule });
        }
      }
    }
  }
  violations.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
  return { violations, filesChecked };
}

/** Every import in the project at `rootDir` that goes against the dependency rules. */
export function checkDependencies(rootDir: string): Violation[] {
  return inspect(rootDir).violations;
}

export function formatViolation(violation: Violation): string {
  return `${violation.file}:${violation.line}  ${violation.from} → ${violation.to}  ${JSON.stringify(violation.specifier)}  (${violation.rule})`;
}

function main(argv: string[]): number {
  const { violations, filesChecked } = inspect(argv[0] ?? process.cwd());
  if (violations.length === 0) {
    console.log(`check-deps: OK, ${filesChecked} files in ${Object.keys(RULES).join(', ')} follow the dependency rules`);
    return 0;
  }
  for (const violation of violations) console.log(formatViolation(violation));
  console.log(`check-deps: ${violations.length} import${violations.length === 1 ? '' : 's'} against the dependency rules (docs/architecture.md)`);
  return 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) process.exitCode = main(process.argv.slice(2));
