import { hubDefaults, type HubConfig } from '../../hub/config.js';
import { startHub } from '../../hub/app.js';
import type { ParsedArgs } from '../commands/command.js';
import { integerArg, logLevelArg, portArg, stringArg, untilSignal, UsageError } from './args.js';

function tlsFiles(certFile: string | undefined, keyFile: string | undefined): HubConfig['http']['tls'] {
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile) throw new UsageError('HTTPS needs both --tls-cert and --tls-key');
  return { certFile, keyFile };
}

function notificationsFromArgs(args: ParsedArgs, defaults: HubConfig['notifications']): HubConfig['notifications'] {
  const webhooks = ((args.values.webhook as string[] | undefined) ?? []).map((spec) => {
    const at = spec.indexOf('=');
    const name = spec.slice(0, at);
    const url = spec.slice(at + 1);
    if (at < 1 || !/^https?:\/\//.test(url)) throw new UsageError(`--webhook ${spec}: expected NAME=http(s)://…`);
    const secret = process.env.CAMPUSHUB_WEBHOOK_SECRET;
    if (!secret) throw new UsageError('--webhook needs CAMPUSHUB_WEBHOOK_SECRET, the key its requests are signed with');
    return { name, url, secret };
  });
  const smtpUrl = stringArg(args, 'smtp-url');
  let smtp: HubConfig['notifications']['smtp'];
  if (smtpUrl) {
    const url = new URL(smtpUrl);
    const from = stringArg(args, 'smtp-from');
    if (url.protocol !== 'smtp:' || !url.hostname) throw new UsageError(`--smtp-url ${smtpUrl}: expected smtp://host:port`);
    if (!from) throw new UsageError('--smtp-url needs --smtp-from, the sender address');
    smtp = { host: url.hostname, port: Number(url.port || 25), from };
  }
  return { ...defaults, webhooks, smtp };
}

export function hubConfigFromArgs(args: ParsedArgs): HubConfig {
  const defaults = hubDefaults();
  const databaseUrl = stringArg(args, 'database-url');
  return {
    ...defaults,
    http: {
      ...defaults.http,
      host: stringArg(args, 'http-host') ?? defaults.http.host,
      port: portArg(args, 'http-port'),
      tls: tlsFiles(stringArg(args, 'tls-cert'), stringArg(args, 'tls-key')),
      corsOrigins: (stringArg(args, 'cors-origins') ?? '').split(',').map((origin) => origin.trim()).filter(Boolean),
    },
    broker: {
      ...defaults.broker,
      host: stringArg(args, 'mqtt-host') ?? defaults.broker.host,
      port: portArg(args, 'mqtt-port'),
      security: securityArg(args),
      tlsHostnames: (args.values['mqtt-tls-hostname'] as string[] | undefined) ?? [],
    },
    pki: { certificateLifetimeDays: integerArg(args, 'cert-lifetime-days', 1, 825) },
    mqttUrl: stringArg(args, 'mqtt-url'),
    database: { url: databaseUrl, dataDir: databaseUrl ? undefined : (stringArg(args, 'data-dir') ?? './data/hub') },
    adminToken: stringArg(args, 'admin-token'),
    keys: { keyFile: stringArg(args, 'key-file') },
    audit: {
      checkpointDir: stringArg(args, 'audit-checkpoint-dir'),
      checkpointKeyFile: stringArg(args, 'audit-checkpoint-key'),
      archiveDir: stringArg(args, 'audit-archive-dir'),
    },
    sessions: {
      openBeforeMinutes: integerArg(args, 'session-open-before', 0, 24 * 60),
      closeAfterMinutes: integerArg(args, 'session-close-after', 0, 24 * 60),
      finalizeGraceMinutes: integerArg(args, 'finalize-grace', 0, 24 * 60),
      finalizeTimeoutMinutes: integerArg(args, 'finalize-timeout', 1, 7 * 24 * 60),
      notTakenEscalateMinutes: integerArg(args, 'not-taken-escalate', 1, 30 * 24 * 60),
    },
    scheduler: { intervalMs: integerArg(args, 'scheduler-interval-ms', 100, 3_600_000) },
    notifications: notificationsFromArgs(args, defaults.notifications),
    logLevel: logLevelArg(args),
  };
}

function securityArg(args: ParsedArgs): HubConfig['broker']['security'] {
  const value = stringArg(args, 'mqtt-security') ?? 'mtls';
  if (value !== 'mtls' && value !== 'development') throw new UsageError('--mqtt-security must be mtls or development');
  return value;
}

export async function runHub(args: ParsedArgs): Promise<number> {
  const hub = await startHub(hubConfigFromArgs(args));
  // One line on stdout that scripts (and tests) can wait for.
  console.log(JSON.stringify({ ready: 'hub', httpUrl: hub.httpUrl, mqttUrl: hub.mqttUrl }));
  await untilSignal();
  await hub.stop();
  return 0;
}
