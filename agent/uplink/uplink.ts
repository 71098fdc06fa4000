import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import {
  CHANNEL_DELIVERY,
  PROTOCOL_VERSION,
  SOFTWARE_VERSION,
  agentClientId,
  agentSubscriptions,
  agentTopic,
  decode,
  encode,
  hubApiValidators,
  parseTopic,
  uuidv7,
  type Ack,
  type AgentAddress,
  type AgentChannel,
  type AgentHealth,
  type AgentStatus,
  type CommandRequest,
  type CommandResponse,
} from '../../protocol/index.js';
import { fullJitterDelay } from '../../drivers/core/reconnect.js';
import type { AgentConfig } from '../config.js';
import { readOutboxRow, type Outbox } from '../outbox/outbox.js';

/** How long stopping waits for the broker to take the agent's offline status. */
const OFFLINE_STATUS_WAIT_MS = 2_000;
/** How long the broker keeps a persistent MQTT 5 session after a disconnect, s. */
const SESSION_EXPIRY_S = 7 * 24 * 3600;

interface InFlightBatch {
  ids: string[];
  timer: NodeJS.Timeout;
}

/** The agent's certificate, key and the hub CA, for mqtts://. */
export interface UplinkTls {
  keyPem: string;
  certificatePem: string;
  caCertificatePem: string;
}

export interface UplinkOptions {
  address: AgentAddress;
  mqttUrl: string;
  /** Mutual TLS credentials; used when the URL is mqtts://. */
  tls?: UplinkTls;
  settings: AgentConfig['uplink'];
  outbox: Outbox;
  logger: Logger;
  /** Device states for the health message. */
  devices(): AgentHealth['devices'];
  /** Runs a command from the hub; throws to answer with an error. */
  runCommand(request: CommandRequest): Promise<unknown>;
  /** Further parts of the health message: disk, clocks. */
  healthExtras?(): Pick<AgentHealth, 'disk' | 'clocks'>;
  /** Called on each connection, once subscribed: what must be said again is said. */
  onConnected?(): void;
}

/**
 * Delivers the outbox to the hub over MQTT and applies the hub's acks.
 *
 * - Events leave the outbox only on the hub's application-level ack, sent
 *   after its database commit; an MQTT PUBACK means nothing here.
 * - While a backlog exists, events go in batches, several batches in flight.
 * - The agent owns reconnection: full-jitter exponential backoff, reset on
 *   CONNACK, instead of mqtt.js's fixed interval that makes every agent of a
 *   campus reconnect in lockstep after a hub restart.
 * - A batch not acknowledged in time is sent again with everything after it;
 *   the hub's ingest is idempotent, so a resend can only duplicate work, never rows.
 */
export class Uplink {
  private client: MqttClient | undefined;
  private readonly inFlight = new Map<string, InFlightBatch>();
  /** Highest outbox seq published since the in-flight window was last empty. */
  private cursor = 0;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private healthTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  /** Starts at the configured version; a broker that refuses MQTT 5 gets 3.1.1 from then on. */
  private mqttVersion: 4 | 5;
  private watchdogTimer: NodeJS.Timeout | undefined;
  /** When acks last advanced, or the connection (re)started, ms. */
  private progressAt = Date.now();
  /** Times the watchdog recycled a connected client whose acks had stopped. */
  watchdogRecycles = 0;
  /** Events acknowledged since start, and when: the drain rate of the metrics. */
  readonly acked = { events: 0, at: [] as { at: number; events: number }[] };
  /** Acks received in this turn of the event loop, settled together in one outbox transaction (one fsync). */
  private unsettledAcks: Ack[] = [];
  private readonly log: Logger;
  private readonly topics;

  constructor(private readonly options: UplinkOptions) {
    this.log = options.logger.child({ ns: 'agent:uplink' });
    this.mqttVersion = options.settings.mqttVersion;
    const topic = (channel: AgentChannel | 'ack' | 'cmd/req') => agentTopic(options.address, channel);
    this.topics = { events: topic('events'), status: topic('status'), health: topic('health'), response: topic('cmd/res') };
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  get inFlightCount(): number {
    let events = 0;
    for (const batch of this.inFlight.values()) events += batch.ids.length;
    return events;
  }

  start(): void {
    this.connectClient();
    this.healthTimer = setInterval(() => this.publishHealth(), this.options.settings.healthIntervalMs);
    this.healthTimer.unref();
    const { watchdogMs } = this.options.settings;
    this.watchdogTimer = setInterval(() => this.checkProgress(), Math.max(50, watchdogMs / 4));
    this.watchdogTimer.unref();
  }

  /**
   * The watchdog: a client that is connected, with batches in flight, and no
   * ack for watchdogMs is recycled. A half-open TCP connection or a broker
   * that stopped routing looks connected to mqtt.js until keepalive notices,
   * which may be minutes; the acks are what matter.
   */
  private checkProgress(): void {
    if (this.stopping || !this.client?.connected || this.inFlight.size === 0) return;
    if (Date.now() - this.progressAt < this.options.settings.watchdogMs) return;
    this.watchdogRecycles++;
    this.log.warn({ inFlight: this.inFlightCount, sinceProgressMs: Date.now() - this.progressAt }, 'connected but acks stopped; recycling the MQTT client');
    this.recycleClient();
  }

  /** Drops the current client and connects a new one; what was in flight goes again. */
  private recycleClient(): void {
    const old = this.client;
    if (old) {
      old.removeAllListeners();
      old.on('error', () => {});
      old.end(true);
    }
    clearTimeout(this.reconnectTimer);
    this.resetInFlight();
    this.connectClient();
  }

  /** Publishes one message on an agent channel with that channel's delivery; false when not connected (nothing is queued). */
  publishOn(channel: 'sync', body: unknown): boolean {
    const client = this.client;
    if (!client?.connected) return false;
    const delivery = CHANNEL_DELIVERY[channel];
    client.publish(agentTopic(this.options.address, channel), encode(body), { qos: delivery.qos, retain: delivery.retain });
    return true;
  }

  /** Publishes the health message now, e.g. when the disk level changes. */
  publishHealthNow(): void {
    this.publishHealth();
  }

  /** Events acknowledged per second over the last minute. */
  drainRate(): number {
    const since = Date.now() - 60_000;
    const recent = this.acked.at.filter((entry) => entry.at >= since);
    if (recent.length === 0) return 0;
    const span = Math.max(1_000, Date.now() - recent[0]!.at);
    return (recent.reduce((sum, entry) => sum + entry.events, 0) * 1_000) / span;
  }

  /**
   * Uses a renewed certificate: the current connection is dropped and a new
   * one made with it. Nothing is lost; what was in flight goes again.
   */
  replaceTls(tls: UplinkTls): void {
    this.options.tls = tls;
    if (this.stopping) return;
    this.recycleClient();
  }

  private connectClient(): void {
    const { address, mqttUrl, tls, settings } = this.options;
    const options: IClientOptions = {
      protocolVersion: this.mqttVersion,
      // The broker refuses any other id for this agent's certificate.
      clientId: agentClientId(address),
      ...(tls ? { key: tls.keyPem, cert: tls.certificatePem, ca: tls.caCertificatePem, rejectUnauthorized: true } : {}),
      // A persistent session keeps acks the hub sent while the link was down; the outbox makes delivery correct without it.
      clean: !settings.persistentSession,
      ...(this.mqttVersion === 5 && settings.persistentSession ? { properties: { sessionExpiryInterval: SESSION_EXPIRY_S } } : {}),
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      keepalive: 30,
      will: {
        topic: this.topics.status,
        payload: encode(this.status('offline')),
        qos: CHANNEL_DELIVERY.status.qos,
        retain: CHANNEL_DELIVERY.status.retain,
      },
    };
    const client = mqtt.connect(mqttUrl, options);
    this.client = client;
    client.on('connect', () => this.onConnect());
    client.on('close', () => this.onClose());
    client.on('error', (error) => {
      const code = (error as Error & { code?: number }).code;
      // CONNACK "unacceptable protocol version" (3.1.1: 1, MQTT 5: 0x84).
      if (this.mqttVersion === 5 && (code === 1 || code === 0x84)) {
        this.log.warn('the broker refuses MQTT 5; using MQTT 3.1.1');
        this.mqttVersion = 4;
        if (!this.stopping) this.recycleClient();
        return;
      }
      this.log.debug({ err: error.message }, 'broker connection error');
    });
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
  }

  /** Publishes what is waiting, as far as the in-flight window allows. Cheap to call often. */
  pump(): void {
    const client = this.client;
    const { batchSize, window, ackTimeoutMs } = this.options.settings;
    while (client?.connected && this.inFlight.size < window) {
      const rows = this.options.outbox.after(this.cursor, batchSize);
      if (rows.length === 0) return;
      this.cursor = rows.at(-1)!.seq;
      const events: Record<string, unknown>[] = [];
      const unreadable: { id: string; reason: string }[] = [];
      for (const row of rows) {
        const read = readOutboxRow(row);
        if (read.ok) events.push(read.event);
        else unreadable.push({ id: row.id, reason: read.reason });
      }
      if (unreadable.length > 0) {
        this.log.error({ rows: unreadable }, 'quarantined outbox rows that cannot be sent');
        this.options.outbox.quarantineLocally(unreadable);
      }
      if (events.length === 0) continue;
      const batchId = uuidv7();
      const timer = setTimeout(() => this.onAckTimeout(batchId), ackTimeoutMs);
      this.inFlight.set(batchId, { ids: events.map((event) => event.id as string), timer });
      const message = { v: PROTOCOL_VERSION, batchId, sentAt: new Date().toISOString(), events };
      client.publish(this.topics.events, encode(message), { qos: CHANNEL_DELIVERY.events.qos }, (error) => {
        if (error) this.log.debug({ batchId, err: error.message }, 'publish failed; the batch will be resent');
      });
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.healthTimer);
    clearInterval(this.watchdogTimer);
    this.resetInFlight();
    const client = this.client;
    if (!client) return;
    if (client.connected) {
      // The broker may already be gone without the client having noticed; then no PUBACK ever comes, so the
      // goodbye gets a bounded wait. The broker publishes the Last Will instead.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        client.publishAsync(this.topics.status, encode(this.status('offline')), { qos: 1, retain: true }).catch(() => {}),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, OFFLINE_STATUS_WAIT_MS))),
      ]);
      clearTimeout(timer);
    }
    await client.endAsync(true).catch(() => {});
  }

  private status(state: AgentStatus['state']): AgentStatus {
    const { address } = this.options;
    return { v: PROTOCOL_VERSION, state, agentId: address.agentId, campusId: address.campusId, since: new Date().toISOString(), version: SOFTWARE_VERSION };
  }

  private onConnect(): void {
    this.attempt = 0;
    this.progressAt = Date.now();
    this.log.info('connected to hub broker');
    const client = this.client!;
    // Clean sessions forget subscriptions, so each connection subscribes again before anything is sent.
    client
      .subscribeAsync(agentSubscriptions(this.options.address), { qos: 1 })
      .then(() => {
        client.publish(this.topics.status, encode(this.status('online')), { qos: 1, retain: true });
        this.publishHealth();
        this.options.onConnected?.();
        this.pump();
      })
      .catch((error: Error) => {
        this.log.warn({ err: error.message }, 'subscribe failed; reconnecting');
        client.end(true);
      });
  }

  private onClose(): void {
    this.resetInFlight();
    if (this.stopping) return;
    const delay = fullJitterDelay(this.attempt++, this.options.settings.backoffBaseMs, this.options.settings.backoffCapMs);
    this.log.info({ delayMs: Math.round(delay), attempt: this.attempt }, 'hub broker unreachable; retrying');
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      if (!this.stopping) this.client?.reconnect();
    }, delay);
  }

  /** Forgets what was in flight; it is all still in the outbox and goes again from the oldest. */
  private resetInFlight(): void {
    for (const batch of this.inFlight.values()) clearTimeout(batch.timer);
    this.inFlight.clear();
    this.cursor = 0;
  }

  private onAckTimeout(batchId: string): void {
    if (!this.inFlight.has(batchId)) return;
    this.log.warn({ batchId, inFlight: this.inFlight.size }, 'no ack in time; resending from the oldest unacknowledged event');
    this.resetInFlight();
    this.pump();
  }

  private onMessage(topic: string, payload: Buffer): void {
    const parsed = parseTopic(topic);
    if (parsed?.channel === 'ack') this.onAck(payload);
    else if (parsed?.channel === 'cmd/req') void this.onCommand(payload);
  }

  private onAck(payload: Buffer): void {
    const decoded = decode(payload, hubApiValidators.ack);
    if (!decoded.ok) {
      this.log.warn({ reason: decoded.error.message }, 'ignored an invalid ack');
      return;
    }
    // Acks come in bursts (the hub commits several batches at once); settling them together costs one fsync, not one each.
    if (this.unsettledAcks.push(decoded.value) === 1) setImmediate(() => this.settleAcks());
  }

  private settleAcks(): void {
    const acks = this.unsettledAcks;
    this.unsettledAcks = [];
    this.options.outbox.settle(
      acks.flatMap((ack) => ack.committed),
      acks.flatMap((ack) => ack.rejected),
    );
    const settled = acks.reduce((sum, ack) => sum + ack.committed.length + ack.rejected.length, 0);
    const now = Date.now();
    this.progressAt = now;
    this.acked.events += settled;
    this.acked.at.push({ at: now, events: settled });
    while (this.acked.at.length > 0 && this.acked.at[0]!.at < now - 60_000) this.acked.at.shift();
    for (const ack of acks) {
      for (const rejection of ack.rejected) this.log.warn({ eventId: rejection.id, reason: rejection.reason }, 'hub rejected an event; quarantined');
      const batch = this.inFlight.get(ack.batchId);
      if (batch) {
        clearTimeout(batch.timer);
        this.inFlight.delete(ack.batchId);
      }
    }
    // With nothing in flight, every remaining row is unsent or unacknowledged: start again from the oldest.
    if (this.inFlight.size === 0) this.cursor = 0;
    this.pump();
  }

  private async onCommand(payload: Buffer): Promise<void> {
    const decoded = decode(payload, hubApiValidators['cmd/req']);
    if (!decoded.ok) {
      this.log.warn({ reason: decoded.error.message }, 'ignored an invalid command');
      return;
    }
    const request = decoded.value as CommandRequest;
    let response: CommandResponse;
    try {
      const result = await this.options.runCommand(request);
      response = { v: PROTOCOL_VERSION, transaction: request.transaction, op: request.op, status: 'ok', result };
    } catch (error) {
      const err = error as Error & { code?: string };
      response = {
        v: PROTOCOL_VERSION,
        transaction: request.transaction,
        op: request.op,
        status: 'error',
        error: { code: err.code ?? 'command_failed', message: err.message.slice(0, 2000) },
      };
    }
    this.client?.publish(this.topics.response, encode(response), { qos: 1 });
  }

  private publishHealth(): void {
    const client = this.client;
    if (!client?.connected) return;
    const stats = this.options.outbox.stats();
    const health: AgentHealth = {
      v: PROTOCOL_VERSION,
      at: new Date().toISOString(),
      outbox: { depth: stats.depth, oldestAgeMs: stats.oldestAgeMs, inFlight: this.inFlightCount },
      quarantine: { count: stats.quarantined },
      devices: this.options.devices(),
      ...this.options.healthExtras?.(),
      versions: { software: SOFTWARE_VERSION, protocol: PROTOCOL_VERSION, node: process.version },
    };
    client.publish(this.topics.health, encode(health), CHANNEL_DELIVERY.health);
  }
}
