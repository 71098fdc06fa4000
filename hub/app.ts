import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { MAX_MESSAGE_BYTES, SOFTWARE_VERSION, type AgentAddress, type AgentChannel } from '../protocol/index.js';
import { createAgentRegistry } from './agents/registry.js';
import { agentRoutes } from './agents/routes.js';
import { auditRoutes } from './audit/routes.js';
import { CHECKPOINT_EVERY_MS, checkpointLocation, loadOrCreateCheckpointKey, writeCheckpoint } from './audit/checkpoint.js';
import { startAuditSealer, type AuditSealer } from './audit/sealer.js';
import { apiKeyAuthenticator } from './auth/apiKeys.js';
import { apiKeyRoutes } from './auth/apiKeyRoutes.js';
import { bootstrapAuthenticator } from './auth/bootstrap.js';
import { createPasswordHasher } from './auth/passwords.js';
import { installAuthorization, type RouteEntry } from './auth/policy.js';
import { authRoutes } from './auth/routes.js';
import { createAuthService } from './auth/service.js';
import { startEmbeddedBroker, type EmbeddedBroker } from './broker/broker.js';
import { pkiRoutes } from './pki/routes.js';
import { startPki, type Pki } from './pki/pki.js';
import { connectHubBus } from './bus/bus.js';
import { campusRoutes } from './campus/routes.js';
import type { HubConfig } from './config.js';
import { openDb, type Db } from './db/db.js';
import { installApiDocs } from './docs/routes.js';
import { migrate } from './db/migrate.js';
import { installErrorShape } from './errors.js';
import './routeDocs.js';
import { eventRoutes } from './events/routes.js';
import { HealthSchema, healthRoutes } from './health/routes.js';
import { importRoutes } from './import/routes.js';
import { createIngest, type Ingest } from './ingest/pipeline.js';
import { createMatcher, type Matcher } from './ingest/matcher.js';
import { createHubMetrics, type HubMetrics } from './metrics/metrics.js';
import { openHubKeys } from './keys/index.js';
import { createScheduler, type Scheduler } from './scheduler/scheduler.js';
import { sessionRoutes } from './sessions/routes.js';
import { createSessionService, type SessionService } from './sessions/service.js';
import { createWatermarkHandler } from './sessions/watermarks.js';
import { deviceRoutes } from './devices/routes.js';
import { createPersonalQrSigner } from './personalQr/signer.js';
import { personalQrRoutes } from './personalQr/routes.js';
import { createTemplateDistributor } from './templates/distribution.js';
import { createTemplateIntake } from './templates/intake.js';
import { templateRoutes } from './templates/routes.js';
import { timetableRoutes } from './timetable/routes.js';
import { countMarks, fillUnmarkedAsAbsent } from './ledger/ledger.js';
import { startDispatcher } from './notifications/dispatcher.js';
import { notifyOnFinalize, notifySessionFlags } from './notifications/rules.js';
import { notificationRoutes } from './notifications/routes.js';
import { createNotifications, type Notifications } from './notifications/service.js';
import { privacyRoutes } from './privacy/routes.js';
import { recordRoutes } from './records/routes.js';
import { archiveLocation, retentionDaysSetting, runRetention } from './retention/retention.js';
import { settingsRoutes } from './settings/routes.js';
import { leaveRoutes } from './leave/routes.js';
import { correctionRoutes, registerCorrectionJobs } from './corrections/routes.js';
import { userRoutes } from './users/routes.js';
import { UserViewSchema } from './users/view.js';

export interface Hub {
  /** http://host:port of the REST API. */
  httpUrl: string;
  /** The broker agents connect to. */
  mqttUrl: string;
  app: FastifyInstance;
  db: Db;
  ingest: Ingest;
  /** Matches committed taps to sessions, after their acknowledgement. */
  matcher: Matcher;
  metrics: HubMetrics;
  /** Every route with its authorization policy. */
  routes: RouteEntry[];
  /** Chains audit entries; `sealNow()` lets tests and shutdown seal without waiting for the timer. */
  auditSealer: AuditSealer;
  logger: Logger;
  /** The agent certificate authority. */
  pki: Pki;
  /** The embedded broker, unless an external one is used. */
  broker: EmbeddedBroker | undefined;
  /** Session transitions and the hooks other areas register: `onFinalize`, `setMarkCounter`. */
  sessions: SessionService;
  /** Periodic jobs (auto-open, auto-close, finalize, escalate); `runDue()` lets tests run them without the timer. */
  scheduler: Scheduler;
  /** The notification outbox: `notify` and friends for other areas, `dispatcher.dispatchNow()` for tests. */
  notifications: Notifications;
  stop(): Promise<void>;
}

/** Secrets never reach the logs: request headers that carry them are redacted. */
export const LOG_REDACT = ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', '*.password', '*.token'];

export interface HubDeps {
  /** The hub's clock, ms since the epoch; tests pass a controllable one. */
  now?: () => number;
}

/**
 * Starts a hub: database (migrated), keys, audit sealer, certificate
 * authority, broker (embedded unless an external one is configured), the
 * hub's MQTT client with its message handlers, and the HTTP API. `stop()`
 * undoes it in reverse order.
 */

export async function startHub(config: HubConfig, logger?: Logger, { now = Date.now }: HubDeps = {}): Promise<Hub> {
  const log = logger ?? pino({ name: 'campushub-hub', level: config.logLevel, redact: LOG_REDACT });
  const cleanups: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((error: Error) => log.warn({ err: error.message }, 'error while stopping'));
  };
  try {
    const db = await openDb({ databaseUrl: config.database.url, dataDir: config.database.dataDir });
    cleanups.push(() => db.close());
    const applied = await migrate(db);
    if (applied.length > 0) log.info({ applied }, 'database migrated');

    const auditSealer = startAuditSealer({ db, logger: log });
    cleanups.push(() => auditSealer.stop());
    const keys = await openHubKeys({ db, keyFile: config.keys.keyFile, dataDir: config.database.dataDir, logger: { warn: (message) => log.warn(message) } });
    const metrics = createHubMetrics();
    const pki = await startPki({
      db,
      secrets: keys.secrets,
      logger: log,
      certificateLifetimeDays: config.pki.certificateLifetimeDays,
    });
    const mtls = config.broker.security === 'mtls';
    let broker: EmbeddedBroker | undefined;
    if (!config.mqttUrl) {
      const server = mtls ? await pki.issueHubIdentity('server', ['localhost', '127.0.0.1', '::1', config.broker.host, ...config.broker.tlsHostnames]) : undefined;
      broker = await startEmbeddedBroker({
        ...config.broker,
        ...(server ? { tls: { caCertificatePem: server.caCertificatePem, keyPem: server.keyPem, certificatePem: server.certificatePem, isRevoked: pki.isRevoked } } : {}),
        logger: log,
        onGuardViolation: (violation) => metrics.guardViolations.inc({ violation }),
      });
      const embedded = broker;
      pki.onRevoked((revoked) => embedded.disconnectSerial(revoked.serial));
      cleanups.push(() => embedded.close());
    }
    const brokerUrl = config.mqttUrl ?? broker!.url;

    // With mutual TLS the hub's own client is an identity of the same CA (CN campushub-hub), for the embedded and an mqtts:// external broker.
    const busTls = mtls && brokerUrl.startsWith('mqtts:') ? await pki.issueHubIdentity('hub') : undefined;
    const bus = await connectHubBus(brokerUrl, log, busTls);
    cleanups.push(() => bus.close());
    const matcher = createMatcher({
      db,
      metrics,
      logger: log,
      settings: config.attendance,
      maxTapsPerMatch: config.ingest.maxTapsPerMatch,
      receiptFirst: { busy: () => ingest.receivingBacklog(config.ingest.maxTapsPerMatchWhileReceiving), maxWaitMs: config.ingest.matchWaitWhileReceivingMs, tapsWhileBusy: config.ingest.maxTapsPerMatchWhileReceiving },
      now: () => new Date(now()),
    });
    cleanups.push(() => matcher.stop());
    const ingest = createIngest({
      db,
      metrics,
      logger: log,
      sendAck: (address, ack) => bus.publishToAgent(address, 'ack', ack),
      maxRowsPerWrite: config.ingest.maxRowsPerWrite,
      maxMessageBytes: MAX_MESSAGE_BYTES,
      onTapsQueued: matcher.wake,
      now: () => new Date(now()),
    });
    cleanups.push(() => ingest.idle());
    // Taps an earlier run committed but did not match.
    matcher.wake();
    const registry = createAgentRegistry({
      db,
      metrics,
      logger: log,
      publishCommand: (address, request) => bus.publishToAgent(address, 'cmd/req', request),
      commandTimeoutMs: config.commands.timeoutMs,
    });

    // One handler per inbound channel (docs/protocol.md, "Topics").
    const handlers: Record<AgentChannel, (address: AgentAddress, payload: Buffer) => void | Promise<void>> = {
      events: ingest.handleEventsMessage,
      status: registry.handleStatus,
      health: registry.handleHealth,
      'cmd/res': registry.handleCommandResponse,
      sync: createWatermarkHandler({ db, metrics, logger: log, now }),
    };
    await bus.subscribe(
      (topic, payload) => {
        const handler = handlers[topic.channel as AgentChannel];
        if (!handler) return;
        Promise.resolve(handler(topic, payload)).catch((error: Error) =>
          log.error({ err: error.message, channel: topic.channel, agentId: topic.agentId }, 'message handler failed'),
        );
      },
      (topic) => {
        metrics.rejectedMessages.inc({ reason: 'topic' });
        log.warn({ topic }, 'message on a topic outside the protocol');
      },
    );

    const hasher = await createPasswordHasher(config.auth.password, () => metrics.passwordVerifications.inc());
    const auth = createAuthService({
      db,
      hasher,
      signingKey: await keys.secrets.getOrCreate('auth.token-signing-key', () => randomBytes(32)),
      now,
      settings: { accessTokenTtlS: config.auth.accessTokenTtlS, refreshAbsoluteTtlMs: config.auth.refreshAbsoluteTtlDays * 86_400_000, throttle: config.auth.throttle },
      onLogin: (result) => metrics.logins.inc({ result }),
    });

    const tls = config.http.tls;
    const app = Fastify({
      loggerInstance: log.child({ ns: 'hub:http' }) as FastifyBaseLogger,
      ...(tls ? { https: { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile), minVersion: 'TLSv1.2' as const } } : {}),
      bodyLimit: config.http.bodyLimitBytes,
      // Fastify's own default is no request timeout at all.
      requestTimeout: config.http.requestTimeoutMs,
      connectionTimeout: 10_000,
      keepAliveTimeout: 5_000,
      ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
    });
    installErrorShape(app);
    const routes = installAuthorization(app, [bootstrapAuthenticator(config.adminToken), auth.accessTokenAuthenticator, apiKeyAuthenticator(db, now)]);
    await installApiDocs(app, SOFTWARE_VERSION);
    await app.register(helmet, { hsts: tls ? { maxAge: 31_536_000, includeSubDomains: true } : false });
    if (config.http.corsOrigins.length > 0) await app.register(cors, { origin: config.http.corsOrigins, credentials: false });
    // After authentication, so that a signed-in user is counted as themselves rather than by address.
    await app.register(rateLimit, {
      hook: 'preHandler',
      max: config.http.rateLimitPerMinute,
      timeWindow: 60_000,
      keyGenerator: (request) => request.principal?.id ?? request.ip,
    });
    app.addSchema(HealthSchema);
    app.addSchema(UserViewSchema);
    await app.register(healthRoutes, { db, metrics, brokerConnected: bus.connected, version: SOFTWARE_VERSION, startedAt: new Date() });
    await app.register(authRoutes, { db, auth, fields: keys.fields, loginRateLimitPerMinute: config.http.loginRateLimitPerMinute });
    await app.register(userRoutes, { db, fields: keys.fields, hasher, now });
    await app.register(apiKeyRoutes, { db, now });
    await app.register(eventRoutes, { db });
    await app.register(agentRoutes, { db, registry });
    await app.register(pkiRoutes, { pki });
    await app.register(campusRoutes, { db });
    await app.register(importRoutes, { db });
    const notificationSettings = config.notifications;
    const dispatcher = startDispatcher({
      db,
      logger: log,
      now,
      webhooks: notificationSettings.webhooks,
      smtp: notificationSettings.smtp,
      fields: keys.fields,
      retry: notificationSettings.retry,
      intervalMs: notificationSettings.dispatchIntervalMs,
    });
    cleanups.push(() => dispatcher.stop());
    const notifications = createNotifications({ webhooks: notificationSettings.webhooks, email: notificationSettings.smtp !== undefined }, dispatcher);
    const sessions = createSessionService({ settings: config.sessions, logger: log });
    // A finalized session's unmarked students become absent in the finalizing transaction; an empty roll is "not taken".
    // The absences then raise their notifications in the same transaction (the outbox).
    sessions.onFinalize(async (tx, session, at) => {
      await fillUnmarkedAsAbsent(tx, session.id, at);
      await notifyOnFinalize(tx, notifications.routing, notificationSettings.rules, session.id, at);
    });
    sessions.setMarkCounter(countMarks);
    await app.register(timetableRoutes, { db, now });
    await app.register(sessionRoutes, { db, sessions, now });
    await app.register(recordRoutes, {
      db,
      now,
      settings: config.attendance,
      qrKey: await keys.secrets.getOrCreate('attendance.qr-key', () => randomBytes(32)),
    });
    const distributor = createTemplateDistributor({ db, keyring: keys.keyring, registry, logger: log, now });
    await app.register(templateRoutes, { db, keyring: keys.keyring, distributor, registry, intake: createTemplateIntake(keys.secrets), now });
    const personalQr = await createPersonalQrSigner(keys.secrets);
    await app.register(personalQrRoutes, { db, signer: personalQr, now });
    await app.register(deviceRoutes, { db, registry, signer: personalQr, openBeforeMinutes: config.attendance.matchBeforeMinutes, now });
    await app.register(auditRoutes, { db });
    await app.register(notificationRoutes, { db, now });
    await app.register(settingsRoutes, { db, now });
    await app.register(privacyRoutes, { db, fields: keys.fields, now });
    await app.register(leaveRoutes, { db, now, settings: config.leave, evidence: config.corrections, notifications });
    await app.register(correctionRoutes, { db, now, settings: config.corrections, notifications });
    await app.listen({ host: config.http.host, port: config.http.port });
    cleanups.push(() => app.close());
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.http.port;
    const host = config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host;
    const httpUrl = `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
    // Jobs start last, and (cleanups run in reverse) stop first, while the database is still open.
    const scheduler = createScheduler({ db, now, logger: log });
    sessions.registerJobs(scheduler, config.scheduler.intervalMs);
    scheduler.register('notifications.session-flags', config.scheduler.intervalMs, (tx, at) => notifySessionFlags(tx, notifications.routing, at));
    const checkpoints = checkpointLocation(config.audit, config.database.dataDir);
    if (checkpoints) {
      const checkpointKey = loadOrCreateCheckpointKey(checkpoints.keyFile);
      scheduler.register('audit.checkpoint', CHECKPOINT_EVERY_MS, async (tx, at) => {
        await writeCheckpoint(tx, checkpoints.dir, checkpointKey, at);
      });
    }
    const archiveDir = archiveLocation(config.audit.archiveDir, config.database.dataDir);
    if (archiveDir) {
      // The tick is claimed in the scheduler's transaction; the work runs after it, in transactions of its own (archive files are written between them).
      let retention: Promise<void> = Promise.resolve();
      scheduler.register('retention.daily', 86_400_000, async (tx, at) => {
        const days = await retentionDaysSetting(tx, at);
        retention = new Promise<void>((resolve) => setImmediate(resolve))
          .then(() => runRetention(db, at, { archiveDir, days }))
          .then((result) => log.info({ ...result }, 'retention job finished'))
          .catch((error: Error) => log.error({ err: error.message }, 'retention job failed; it runs again tomorrow'));
      });
      cleanups.push(() => retention);
    }
    if (!checkpoints) {
      log.warn('no audit checkpoint directory configured (--audit-checkpoint-dir): a truncated audit tail cannot be detected');
    }
    registerCorrectionJobs(scheduler, config.scheduler.intervalMs, notifications);
    scheduler.start(config.scheduler.intervalMs);
    cleanups.push(() => scheduler.stop());
    log.info({ httpUrl, mqttUrl: broker ? brokerUrl : 'external', database: db.backend }, 'hub started');
    return { httpUrl, mqttUrl: brokerUrl, app, db, ingest, matcher, metrics, routes, auditSealer, pki, broker, sessions, scheduler, notifications, logger: log, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
