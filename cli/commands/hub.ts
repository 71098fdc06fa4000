import type { Command } from './command.js';

export const hubCommand: Command = {
  name: 'hub',
  summary: 'Run the central hub: REST API, embedded MQTT broker and ingest',
  usage: 'hub [options]',
  options: {
    'http-host': { type: 'string', default: '127.0.0.1', env: 'CAMPUSHUB_HTTP_HOST', description: 'Address the HTTP server binds to (default 127.0.0.1)' },
    'http-port': { type: 'string', default: '8080', env: 'CAMPUSHUB_HTTP_PORT', description: 'HTTP port; 0 picks a free one (default 8080)' },
    'tls-cert': { type: 'string', env: 'CAMPUSHUB_TLS_CERT', description: 'PEM certificate (chain) file: serve HTTPS with HSTS instead of plain HTTP' },
    'tls-key': { type: 'string', env: 'CAMPUSHUB_TLS_KEY', description: 'PEM private key file for --tls-cert' },
    'cors-origins': { type: 'string', env: 'CAMPUSHUB_CORS_ORIGINS', description: 'Comma-separated origins browsers may call the API from (default none)' },
    'mqtt-host': { type: 'string', default: '127.0.0.1', env: 'CAMPUSHUB_MQTT_HOST', description: 'Address the embedded broker binds to (default 127.0.0.1)' },
    'mqtt-port': { type: 'string', default: '1883', env: 'CAMPUSHUB_MQTT_PORT', description: 'Embedded broker port; 0 picks a free one (default 1883)' },
    'mqtt-security': {
      type: 'string',
      default: 'mtls',
      env: 'CAMPUSHUB_MQTT_SECURITY',
      description: 'mtls (agents authenticate with certificates of the hub CA, mqtts://) or development (plain, unauthenticated MQTT) (default mtls)',
    },
    'mqtt-tls-hostname': {
      type: 'string',
      multiple: true,
      env: 'CAMPUSHUB_MQTT_TLS_HOSTNAME',
      description: 'A host name or address agents use to reach the embedded broker, for its certificate; repeatable (localhost and 127.0.0.1 always)',
    },
    'cert-lifetime-days': { type: 'string', default: '30', env: 'CAMPUSHUB_CERT_LIFETIME_DAYS', description: 'Lifetime of agent certificates in days (default 30)' },
    'mqtt-url': { type: 'string', env: 'MQTT_URL', description: 'Use this external broker instead of the embedded one, e.g. mqtt://127.0.0.1:1883' },
    'database-url': { type: 'string', env: 'DATABASE_URL', description: 'Postgres URL; without it the embedded PGlite is used' },
    'data-dir': { type: 'string', default: './data/hub', env: 'CAMPUSHUB_DATA_DIR', description: 'PGlite data directory (default ./data/hub)' },
    'audit-checkpoint-dir': { type: 'string', env: 'CAMPUSHUB_AUDIT_CHECKPOINT_DIR', description: 'Directory for the signed audit checkpoints, outside the database (default <data-dir>/audit/checkpoints with PGlite)' },
    'audit-checkpoint-key': { type: 'string', env: 'CAMPUSHUB_AUDIT_CHECKPOINT_KEY', description: 'Ed25519 key file that signs audit checkpoints, created when missing (default <data-dir>/audit/checkpoint-key.pem with PGlite)' },
    'audit-archive-dir': { type: 'string', env: 'CAMPUSHUB_AUDIT_ARCHIVE_DIR', description: 'Directory the daily retention job archives expired audit entries to (default <data-dir>/audit/archive with PGlite; no retention without one)' },
    webhook: {
      type: 'string',
      multiple: true,
      env: 'CAMPUSHUB_WEBHOOK',
      description: 'NAME=URL: post every notification there, signed with CAMPUSHUB_WEBHOOK_SECRET (HMAC-SHA256); repeatable (docs/notifications.md)',
    },
    'smtp-url': { type: 'string', env: 'CAMPUSHUB_SMTP_URL', description: 'smtp://host:port of a relay that accepts the hub\'s mail without authentication; email notifications are off without it' },
    'smtp-from': { type: 'string', env: 'CAMPUSHUB_SMTP_FROM', description: 'The sender address of email notifications (required with --smtp-url)' },
    'key-file': { type: 'string', env: 'CAMPUSHUB_KEY_FILE', description: 'Key file with the key-encryption keys (mode 0600); see docs/security.md. Without it: CAMPUSHUB_KEKS, or a development key file in the data directory' },
    'admin-token': { type: 'string', env: 'CAMPUSHUB_ADMIN_TOKEN', description: 'Bootstrap admin bearer token, for first setup; without it only users and API keys sign in' },
    'scheduler-interval-ms': {
      type: 'string',
      default: '30000',
      env: 'CAMPUSHUB_SCHEDULER_INTERVAL_MS',
      description: 'How often the scheduler opens, closes and finalizes sessions, in ms (default 30000)',
    },
    'session-open-before': { type: 'string', default: '10', env: 'CAMPUSHUB_SESSION_OPEN_BEFORE', description: 'Open sessions this many minutes before they start (default 10)' },
    'session-close-after': { type: 'string', default: '10', env: 'CAMPUSHUB_SESSION_CLOSE_AFTER', description: 'Close sessions this many minutes after they end (default 10)' },
    'finalize-grace': {
      type: 'string',
      default: '15',
      env: 'CAMPUSHUB_FINALIZE_GRACE',
      description: 'A closed session is final once every door device of its room has synced up to this many minutes after its end (default 15)',
    },
    'finalize-timeout': {
      type: 'string',
      default: '120',
      env: 'CAMPUSHUB_FINALIZE_TIMEOUT',
      description: 'Or this many minutes after its end at the latest, flagged with the devices that had not synced (default 120)',
    },
    'not-taken-escalate': {
      type: 'string',
      default: '1440',
      env: 'CAMPUSHUB_NOT_TAKEN_ESCALATE',
      description: 'Escalate a session closed without marks to the HOD after this many minutes (default 1440)',
    },
    'log-level': { type: 'string', default: 'info', env: 'LOG_LEVEL', description: 'trace, debug, info, warn, error or silent (default info)' },
  },
  async run(args) {
    const { runHub } = await import('../start/hub.js');
    return runHub(args);
  },
};
