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
    'key-file': { type: 'string', env: 'CAMPUSHUB_KEY_FILE', description: 'Key file with the key-encryption keys (mode 0600); see docs/security.md. Without it: CAMPUSHUB_KEKS, or a development key file in the data directory' },
    'admin-token': { type: 'string', env: 'CAMPUSHUB_ADMIN_TOKEN', description: 'Bootstrap admin bearer token, for first setup; without it only users and API keys sign in' },
    'log-level': { type: 'string', default: 'info', env: 'LOG_LEVEL', description: 'trace, debug, info, warn, error or silent (default info)' },
  },
  async run(args) {
    const { runHub } = await import('../start/hub.js');
    return runHub(args);
  },
};
