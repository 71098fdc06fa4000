import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The hub's Prometheus metrics; one registry per hub, so several hubs can live in one test process. */
export function createHubMetrics() {
  const registry = new Registry();
  const registers = [registry];
  return {
    registry,
    ingestEvents: new Counter({
      name: 'campushub_ingest_events_total',
      help: 'Events handled by ingest, by result: committed (new rows), duplicate (already stored), rejected',
      labelNames: ['result'] as const,
      registers,
    }),
    ingestBatches: new Counter({ name: 'campushub_ingest_batches_total', help: 'Agent batches committed and acknowledged', registers }),
    ingestBatchSize: new Histogram({
      name: 'campushub_ingest_batch_size',
      help: 'Events per agent batch',
      buckets: [1, 5, 10, 50, 100, 250, 500, 1000],
      registers,
    }),
    ingestWriteRows: new Histogram({
      name: 'campushub_ingest_write_rows',
      help: 'Rows per database transaction of ingest (agent batches merged)',
      buckets: [1, 10, 100, 500, 1000, 2500, 5000, 10000],
      registers,
    }),
    ingestLag: new Histogram({
      name: 'campushub_ingest_lag_seconds',
      help: 'From the agent receiving a tap to the hub committing it',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
      registers,
    }),
    rejectedMessages: new Counter({
      name: 'campushub_ingest_rejected_messages_total',
      help: 'MQTT messages refused whole, by reason: too_large, bad_json, schema, topic, unidentified_event',
      labelNames: ['reason'] as const,
      registers,
    }),
    guardViolations: new Counter({
      name: 'campushub_mqtt_guard_violations_total',
      help: 'MQTT connections closed for announcing an oversize or malformed packet',
      labelNames: ['violation'] as const,
      registers,
    }),
    ingestFailures: new Counter({
      name: 'campushub_ingest_write_failures_total',
      help: 'Database writes of ingest that failed; their batches stay unacknowledged and are redelivered',
      registers,
    }),
    matchedTaps: new Counter({
      name: 'campushub_match_taps_total',
      help: 'Queued taps the matcher settled, by result: marked, or the reason they marked nobody',
      labelNames: ['result'] as const,
      registers,
    }),
    matchBatchSeconds: new Histogram({
      name: 'campushub_match_batch_seconds',
      help: 'Duration of one matcher transaction',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    matchFailures: new Counter({
      name: 'campushub_match_failures_total',
      help: 'Matcher transactions that failed; their taps stay queued and are retried',
      registers,
    }),
    passwordVerifications: new Counter({
      name: 'campushub_auth_password_verifications_total',
      help: 'argon2id verifications, real or against the dummy hash for unknown users',
      registers,
    }),
    logins: new Counter({
      name: 'campushub_auth_logins_total',
      help: 'Sign-in attempts by result: success, failure, throttled',
      labelNames: ['result'] as const,
      registers,
    }),
    agentsConnected: new Gauge({ name: 'campushub_agents_connected', help: 'Agents whose retained status is online', registers }),
    agentOutboxDepth: new Gauge({
      name: 'campushub_agent_outbox_depth',
      help: 'Undelivered events in each agent\'s outbox, from its last health message',
      labelNames: ['agent'] as const,
      registers,
    }),
    agentQuarantined: new Gauge({
      name: 'campushub_agent_quarantined_events',
      help: 'Events each agent holds in quarantine, from its last health message',
      labelNames: ['agent'] as const,
      registers,
    }),
  };
}

export type HubMetrics = ReturnType<typeof createHubMetrics>;
