/**
 * No Docker engine runs where the tests do, so this checks docker-compose.yml and the
 * Dockerfile by reading them: every campushub command in the compose file must parse
 * against the CLI's own option specs, and the services must point at each other.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { parseDeviceSpec } from '../agent/config.js';
import type { ParsedArgs } from '../cli/commands/command.js';
import { parseCommandLine } from '../cli/dispatch.js';

const ROOT = process.cwd();

interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  environment?: Record<string, string | number | null> | string[];
  ports?: (string | number)[];
  volumes?: (string | { source?: string; target: string })[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[]; disable?: boolean };
}

interface ComposeFile {
  services?: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

/** The campushub subcommand each application service must run. */
const APP_SERVICES = { hub: 'hub', agent: 'agent', 'sim-qr': 'sim' } as const;

function readCompose(): ComposeFile {
  // Merge keys (`<<: *campushub`) are YAML 1.1, which compose supports and the yaml package does on request.
  return parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as ComposeFile;
}

/** Compose's `${VAR:-default}` and `${VAR}` as they come out with no such variables set. */
function interpolate(value: string): string {
  return value.replace(/\$\{(\w+)(?::?-([^}]*))?\}/g, (_match, _name, fallback: string | undefined) => fallback ?? '');
}

function environmentOf(service: Service): Record<string, string> {
  const entries = Array.isArray(service.environment)
    ? service.environment.map((entry) => entry.split(/=(.*)/s).slice(0, 2) as [string, string])
    : Object.entries(service.environment ?? {}).map(([name, value]) => [name, value === null ? '' : String(value)]);
  return Object.fromEntries(entries.map(([name, value]) => [name, interpolate(value ?? '')]));
}

function commandOf(service: Service): string[] {
  const command = service.command ?? [];
  return (typeof command === 'string' ? command.trim().split(/\s+/) : command).map(interpolate);
}

function healthcheckText(service: Service): string {
  const check = service.healthcheck?.test ?? [];
  return typeof check === 'string' ? check : check.join(' ');
}

function namedVolumes(service: Service): { source: string; target: string }[] {
  return (service.volumes ?? []).flatMap((volume) => {
    const [source = '', target = ''] = typeof volume === 'string' ? volume.split(':') : [volume.source ?? '', volume.target];
    // Bind mounts start with a path; only named volumes need a top-level declaration.
    return /^[./~]/.test(source) || source === '' ? [] : [{ source, target }];
  });
}

function dependsOn(service: Service, other: string): string | undefined {
  const dependencies = service.depends_on ?? [];
  if (Array.isArray(dependencies)) return dependencies.includes(other) ? 'service_started' : undefined;
  return dependencies[other] ? (dependencies[other].condition ?? 'service_started') : undefined;
}

/** Everything wrong with a compose file, one sentence each; empty when it would run. */
function composeProblems(compose: ComposeFile): string[] {
  const problems: string[] = [];
  const services = compose.services ?? {};
  const declaredVolumes = new Set(Object.keys(compose.volumes ?? {}));
  const binScript = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin.campushub;
  const args: Partial<Record<keyof typeof APP_SERVICES, ParsedArgs>> = {};

  for (const name of ['postgres', ...Object.keys(APP_SERVICES)]) if (!services[name]) problems.push(`service ${name} is missing`);

  for (const [name, service] of Object.entries(services)) {
    if (service.build !== undefined) {
      const build = typeof service.build === 'string' ? { context: service.build } : service.build;
      const dockerfile = join(ROOT, build.context ?? '.', build.dockerfile ?? 'Dockerfile');
      if (!existsSync(dockerfile)) problems.push(`${name} builds from ${dockerfile}, which does not exist`);
    } else if (!service.image) {
      problems.push(`${name} has neither an image nor a build`);
    }
    if (healthcheckText(service) === '' || service.healthcheck?.disable) problems.push(`${name} has no healthcheck`);
    for (const volume of namedVolumes(service)) {
      if (!declaredVolumes.has(volume.source)) problems.push(`${name} mounts volume ${volume.source}, which is not declared under volumes`);
    }
  }

  for (const [name, subcommand] of Object.entries(APP_SERVICES) as [keyof typeof APP_SERVICES, string][]) {
    const service = services[name];
    if (!service) continue;
    const [node, script, ...argv] = commandOf(service);
    if (node !== 'node' || script !== binScript) {
      problems.push(`${name} must run \`node ${binScript}\`, not \`${[node, script].join(' ')}\``);
      continue;
    }
    const line = parseCommandLine(argv, environmentOf(service));
    if ('error' in line) problems.push(`${name}: ${line.error}`);
    else if ('help' in line) problems.push(`${name} only asks for help`);
    else if (line.command.name !== subcommand) problems.push(`${name} runs campushub ${line.command.name} instead of ${subcommand}`);
    else args[name] = line.args;
  }

  const { hub, agent, 'sim-qr': sim } = args;
  if (hub) {
    const databaseUrl = String(hub.values['database-url'] ?? '');
    if (!URL.canParse(databaseUrl) || new URL(databaseUrl).hostname !== 'postgres') problems.push(`the hub's database URL ${JSON.stringify(databaseUrl)} does not point at the postgres service`);
    if (!hub.values['admin-token']) problems.push('the hub has no admin token, not even a placeholder');
    if (dependsOn(services.hub!, 'postgres') !== 'service_healthy') problems.push('the hub does not wait for postgres to be healthy');
    if (!healthcheckText(services.hub!).includes(`127.0.0.1:${hub.values['http-port']}/healthz`)) problems.push(`the hub's healthcheck does not fetch /healthz on port ${hub.values['http-port']}`);
    for (const port of [hub.values['http-port'], hub.values['mqtt-port']]) {
      if (!(services.hub!.ports ?? []).some((published) => String(published).endsWith(`:${port}`))) problems.push(`the hub does not publish port ${port}`);
    }
    if (!namedVolumes(services.hub!).some((volume) => volume.target === '/app/data')) problems.push('the hub has no volume for /app/data');
  }
  if (agent) {
    const mqttUrl = new URL(String(agent.values['mqtt-url']));
    // Ports are compared only when the other side parsed, so one broken command gives one problem.
    if (mqttUrl.hostname !== 'hub' || (hub && mqttUrl.port !== String(hub.values['mqtt-port']))) problems.push(`the agent's --mqtt-url ${mqttUrl.href} does not point at the hub service's broker`);
    if (dependsOn(services.agent!, 'hub') !== 'service_healthy') problems.push('the agent does not wait for the hub to be healthy');
    const dataDir = String(agent.values['data-dir']);
    if (!namedVolumes(services.agent!).some((volume) => volume.target === dataDir)) problems.push(`the agent has no volume for its data dir ${dataDir}`);
    if (!healthcheckText(services.agent!).includes(dataDir)) problems.push(`the agent's healthcheck does not look at its data dir ${dataDir}`);
    for (const spec of (agent.values.device as string[] | undefined) ?? []) {
      try {
        const device = new URL(parseDeviceSpec(spec).url);
        if (device.hostname !== 'sim-qr' || (sim && device.port !== String(sim.values.port))) problems.push(`the agent's device ${spec} does not point at the sim-qr service's port`);
      } catch (error) {
        problems.push(`the agent's device ${spec} does not parse: ${(error as Error).message}`);
      }
    }
  }
  if (sim) {
    const listening = `:${Number(sim.values.port).toString(16).toUpperCase().padStart(4, '0')} 00000000:0000 0A`;
    if (!healthcheckText(services['sim-qr']!).includes(listening)) problems.push(`the sim-qr healthcheck does not look for a listener on port ${sim.values.port}`);
  }
  return problems;
}

test('docker-compose.yml describes postgres, hub, agent and sim-qr, and every check passes', () => {
  const compose = readCompose();
  assert.deepEqual(Object.keys(compose.services ?? {}).sort(), ['agent', 'hub', 'postgres', 'sim-qr']);
  assert.equal(compose.services!.postgres!.image, 'postgres:16');
  assert.match(healthcheckText(compose.services!.postgres!), /pg_isready/);
  assert.deepEqual(composeProblems(compose), []);
});

test('a misspelled option in a compose command fails the check, naming the option', () => {
  const compose = readCompose();
  const hub = compose.services!.hub!;
  hub.command = commandOf(hub).map((arg) => (arg === '--mqtt-host' ? '--mqtt-hots' : arg));
  const problems = composeProblems(compose);
  assert.equal(problems.length, 1, problems.join('\n'));
  assert.match(problems[0]!, /^hub: .*unknown option --mqtt-hots \(did you mean --mqtt-host\?\)/);
});

test('a compose command naming a subcommand that does not exist, or the wrong one, fails the check', () => {
  const misspelled = readCompose();
  misspelled.services!.agent!.command = commandOf(misspelled.services!.agent!).map((arg) => (arg === 'agent' ? 'agnet' : arg));
  assert.match(composeProblems(misspelled).join('\n'), /agent: .*unknown command "agnet"/);

  const swapped = readCompose();
  swapped.services!['sim-qr']!.command = ['node', 'dist/cli/campushub.js', 'demo'];
  assert.match(composeProblems(swapped).join('\n'), /sim-qr runs campushub demo instead of sim/);
});

test('services that do not point at each other fail the check', () => {
  const compose = readCompose();
  const { hub, agent } = compose.services!;
  hub!.environment = { ...environmentOf(hub!), DATABASE_URL: 'postgres://campushub@localhost:5432/campushub' };
  agent!.command = commandOf(agent!).map((arg) => arg.replace('mqtt://hub:', 'mqtt://hubb:').replace('sim-qr:7001', 'sim-qr:7002'));
  delete agent!.depends_on;
  compose.volumes = { 'postgres-data': null };
  assert.deepEqual(composeProblems(compose), [
    'hub mounts volume hub-data, which is not declared under volumes',
    'agent mounts volume agent-data, which is not declared under volumes',
    'the hub\'s database URL "postgres://campushub@localhost:5432/campushub" does not point at the postgres service',
    'the agent\'s --mqtt-url mqtt://hubb:1883 does not point at the hub service\'s broker',
    'the agent does not wait for the hub to be healthy',
    'the agent\'s device qr:door-101=tcp://sim-qr:7002?ack=1 does not point at the sim-qr service\'s port',
  ]);
});

test('the Dockerfile builds on node 20 slim with the native build tools, prunes dev dependencies and runs as a non-root user in /app', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const stages = dockerfile.match(/^FROM .+$/gm) ?? [];
  assert.ok(stages.length > 0 && stages.every((stage) => stage.startsWith('FROM node:20-bookworm-slim')), stages.join('\n'));
  assert.match(dockerfile, /apt-get install [^\n]*\bpython3 make g\+\+/);
  for (const step of ['npm ci', 'npm run build', 'npm prune --omit=dev']) assert.ok(dockerfile.includes(step), step);
  assert.match(dockerfile, /^WORKDIR \/app$/m);
  const users = dockerfile.match(/^USER (\S+)$/gm) ?? [];
  assert.ok(users.length > 0 && !/USER (root|0)$/.test(users.at(-1)!), 'the last USER is not root');
  const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
  for (const folder of ['node_modules', 'dist', 'data']) assert.ok(ignored.includes(folder), `.dockerignore leaves out ${folder}`);
});
