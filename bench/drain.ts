/**
 * drain: events per second from an agent's outbox to rows committed at the
 * hub, after a backlog of --events taps built up while the hub was away, with
 * the agent's CPU and memory over the drain.
 *
 *   npm run bench -- drain [--events 100000] [--backends postgres,pglite] [--devices 20]
 *
 * The agent runs in its own process, as in production, with its default
 * settings; the hub (embedded broker) in this one. Postgres is
 * BENCH_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Outbox } from '../agent/outbox/outbox.js';
import { uuidv7, type TapEvent } from '../protocol/index.js';
import { spawnCampushub } from '../test/support/processes.js';
import { DEFAULT_POSTGRES, postgresReachable, startBenchHub } from './benchHub.js';
import { cpuShare, mib, sampleProcess, type ProcessSample } from './processStats.js';
import { round } from './report.js';

/** A day's backlog: taps spread over the `devices` doors, oldest first, as the outbox holds them after an outage. */
function backlog(events: number, devices: number): TapEvent[] {
  const start = Date.now() - 86_400_000;
  const step = 86_400_000 / events;
  return Array.from({ length: events }, (_, index): TapEvent => {
    const at = Math.round(start + index * step);
    return {
      id: uuidv7(at),
      kind: 'tap',
      deviceId: `door-${index % devices}`,
      method: 'fingerprint',
      subject: `S${String(index).padStart(7, '0')}`,
      deviceTime: new Date(at).toISOString(),
      receivedAt: new Date(at).toISOString(),
      deviceKey: `zk/DRAIN${index % devices}/S${index}/${at}/1/0`,
    };
  });
}

async function measure(backend: 'pglite' | 'postgres', events: number, devices: number) {
  const { hub, close } = await startBenchHub(backend);
  const agentDir = mkdtempSync(join(tmpdir(), 'campushub-bench-drain-'));
  try {
    process.stderr.write(`[${backend}] filling the outbox with a backlog of ${events} taps\n`);
    const outbox = new Outbox(agentDir);
    const taps = backlog(events, devices);
    for (let offset = 0; offset < events; offset += 10_000) outbox.enqueueMany(taps.slice(offset, offset + 10_000));
    outbox.close();

    const committed = async () => {
      const { rows } = await hub.db.query<{ n: number }>('select count(*)::int as n from events');
      return rows[0]!.n;
    };
    process.stderr.write(`[${backend}] draining through agent → MQTT → hub\n`);
    const agent = spawnCampushub(['agent', '--agent-id', 'bench-drain', '--campus-id', 'main', '--mqtt-url', hub.mqttUrl, '--data-dir', agentDir], { LOG_LEVEL: 'warn' });
    await agent.ready;
    const pid = agent.child.pid!;
    const first = sampleProcess(pid);
    const samples: ProcessSample[] = [first];
    for (;;) {
      const done = await committed();
      samples.push(sampleProcess(pid));
      if (done >= events) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const last = samples.at(-1)!;
    const seconds = (last.at - first.at) / 1000;
    await agent.stop();
    return {
      backend,
      events,
      seconds: round(seconds),
      eventsPerSecond: Math.round(events / seconds),
      agent: {
        cpuCores: round(cpuShare(first, last)),
        rssMiB: { mean: mib(samples.reduce((sum, sample) => sum + sample.rssBytes, 0) / samples.length), peak: mib(last.peakRssBytes) },
      },
    };
  } finally {
    await close();
    rmSync(agentDir, { recursive: true, force: true });
  }
}

export async function run(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      events: { type: 'string', default: '100000' },
      backends: { type: 'string', default: 'postgres,pglite' },
      devices: { type: 'string', default: '20' },
    },
  });
  const events = Number(values.events);
  const devices = Number(values.devices);
  const results = [];
  for (const backend of values.backends!.split(',') as ('pglite' | 'postgres')[]) {
    if (backend === 'postgres' && !(await postgresReachable(process.env.BENCH_DATABASE_URL ?? DEFAULT_POSTGRES))) {
      results.push({ backend, skipped: 'no Postgres reachable; set BENCH_DATABASE_URL' });
      continue;
    }
    results.push(await measure(backend, events, devices));
  }
  return { benchmark: 'drain', node: process.version, cpus: availableParallelism(), results, target: 'eventsPerSecond ≥ 5000 on Postgres' };
}
