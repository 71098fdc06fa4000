import type { Level } from 'pino';
import { DEFAULT_PASSWORD_PARAMS, type PasswordParams } from './auth/passwords.js';
import { DEFAULT_THROTTLE_LIMITS, type ThrottleLimits } from './auth/throttle.js';
import type { RetryPolicy } from './notifications/dispatcher.js';
import type { WebhookTarget } from './notifications/outbox.js';
import type { NotificationRules } from './notifications/rules.js';
import type { SmtpSettings } from './notifications/smtp.js';

/** How taps become marks (docs/ledger.md). */
export interface AttendanceSettings {
  /** A tap later than this many minutes after the start is late. */
  lateGraceMinutes: number;
  /** Taps count for a session from this many minutes before its start until its end. */
  matchBeforeMinutes: number;
  /** A second tap of the same student at the same session within this many seconds is a duplicate. */
  duplicateWindowSeconds: number;
  /** The rotating session QR changes every this many seconds; one window either side is accepted. */
  qrWindowSeconds: number;
}

/** Leave (docs/leave.md). Leave types themselves are data (`/api/v1/leave/types`). */
export interface LeaveSettings {
  /** A leave may start at most this many days before the day it is applied for (medical leave after the fact). */
  backdateDays: number;
}

/** Corrections and uploaded evidence (docs/corrections.md). */
export interface CorrectionSettings {
  /** A student may dispute a mark until this many days after the session ended. */
  disputeWindowDays: number;
  /** Teachers correct their own session without approval until this many hours after it ended; later, the HOD approves. */
  facultyWindowHours: number;
  /** A pending correction is escalated to the HOD when it waited this many hours. */
  slaHours: number;
  /** Reason codes a late correction must name. */
  reasonCodes: string[];
  /** Largest evidence or leave document, bytes. */
  evidenceMaxBytes: number;
  /** Content types evidence and leave documents may have. */
  evidenceTypes: string[];
}

/** Everything a hub needs to start. Defaults live in `hubDefaults`; the CLI maps flags and environment onto this. */
export interface HubConfig {
  http: {
    host: string;
    port: number;
    /** Serve HTTPS (TLS 1.2 or later, with HSTS) with this certificate and key, PEM files. Plain HTTP is meant for localhost. */
    tls: { certFile: string; keyFile: string } | undefined;
    /** Origins a browser may call the API from; none by default (the web app is served by the hub itself). */
    corsOrigins: string[];
    /** Largest request body, bytes. Routes that take more (imports) raise it for themselves. */
    bodyLimitBytes: number;
    requestTimeoutMs: number;
    /** Requests per minute per user (or per client address when signed out). */
    rateLimitPerMinute: number;
    /** Sign-in attempts per minute per client address, before any password is checked. */
    loginRateLimitPerMinute: number;
  };
  /** The embedded broker; ignored when `mqttUrl` is set. */
  broker: {
    host: string;
    port: number;
    /** Largest MQTT packet accepted, in bytes; larger ones close the connection before they are buffered. */
    maxPacketBytes: number;
    /** Seconds a new connection may take to send CONNECT. */
    connectTimeoutMs: number;
    /**
     * `mtls`: MQTT over TLS, agents authenticate with certificates of the hub CA
     * and are held to their own topics. `development`: plain, unauthenticated
     * MQTT, for the demo and tests only.
     */
    security: 'mtls' | 'development';
    /** Host names and addresses agents use to reach the broker, for its server certificate (localhost and 127.0.0.1 always). */
    tlsHostnames: string[];
    rateLimits: {
      /** Sustained PUBLISH packets per second per client; beyond the burst the client is disconnected. */
      publishesPerSecond: number;
      publishBurst: number;
      /** New connections per IP address per minute; more are closed before CONNECT. */
      connectionsPerIpPerMinute: number;
    };
  };
  /** An external broker, e.g. mqtt://127.0.0.1:1883. */
  mqttUrl: string | undefined;
  database: { url: string | undefined; dataDir: string | undefined };
  /** The bootstrap admin's bearer token, for first setup and development; without one, only users and API keys sign in. */
  adminToken: string | undefined;
  keys: {
    /** JSON key file with the key-encryption keys; else CAMPUSHUB_KEY_FILE, CAMPUSHUB_KEKS, or a development key file in the PGlite data directory. */
    keyFile: string | undefined;
  };
  /** Signed checkpoints of the audit chain (docs/audit.md); both default under the PGlite data directory, and are off on Postgres unless set. */
  audit: {
    /** Where checkpoints are written, outside the database (ideally other storage, append-only or WORM). */
    checkpointDir: string | undefined;
    /** The Ed25519 signing key (PKCS#8 PEM, mode 0600), created when missing. */
    checkpointKeyFile: string | undefined;
    /** Where the daily retention job archives expired audit entries before purging them; no retention runs without one. */
    archiveDir: string | undefined;
  };
  auth: {
    /** Access-token lifetime, seconds. */
    accessTokenTtlS: number;
    /** A sign-in's absolute lifetime, days: refresh tokens stop working after it. */
    refreshAbsoluteTtlDays: number;
    password: PasswordParams;
    throttle: ThrottleLimits;
  };
  ingest: {
    /** Most rows written in one transaction. Agent batches queued during a write are merged up to this. */
    maxRowsPerWrite: number;
    /** Most queued taps the matcher takes in one transaction. */
    maxTapsPerMatch: number;
    /** While ingest takes a backlog, the matcher waits up to this long between batches … */
    matchWaitWhileReceivingMs: number;
    /** … and then takes at most this many taps. A second that brings this many taps counts as a backlog. */
    maxTapsPerMatchWhileReceiving: number;
  };
  pki: {
    /** Lifetime of agent certificates in days; agents renew at about two thirds of it. */
    certificateLifetimeDays: number;
  };
  commands: {
    /** How long a command waits for the agent's response, in ms. */
    timeoutMs: number;
  };
  /** When the scheduler opens, closes and finalizes sessions, and when it flags them (docs/sessions.md). */
  sessions: {
    /** A scheduled session opens this many minutes before it starts. */
    openBeforeMinutes: number;
    /** An open session closes this many minutes after it ends. */
    closeAfterMinutes: number;
    /** A closed session is final once every door device of its room has delivered its events up to this many minutes after the end. */
    finalizeGraceMinutes: number;
    /** Or, at the latest, this many minutes after the end, with a flag naming the devices that had not synced. */
    finalizeTimeoutMinutes: number;
    /** A session closed with no marks is escalated to the HOD after this many minutes. */
    notTakenEscalateMinutes: number;
  };
  scheduler: {
    /** How often the scheduler's jobs run, ms; 0 runs them only when asked (tests). */
    intervalMs: number;
  };
  attendance: AttendanceSettings;
  /** The outbox dispatcher, its channels and the rules that raise notifications (docs/notifications.md). */
  notifications: {
    webhooks: WebhookTarget[];
    /** Email goes out through this relay; none when unset. */
    smtp: SmtpSettings | undefined;
    /** Pause between dispatcher passes, ms; 0 leaves them to `dispatchNow()` (tests). */
    dispatchIntervalMs: number;
    retry: RetryPolicy;
    rules: NotificationRules;
  };
  leave: LeaveSettings;
  corrections: CorrectionSettings;
  logLevel: Level | 'silent';
}

export function hubDefaults(): HubConfig {
  return {
    http: {
      host: '127.0.0.1',
      port: 8080,
      tls: undefined,
      corsOrigins: [],
      bodyLimitBytes: 64 * 1024,
      requestTimeoutMs: 30_000,
      rateLimitPerMinute: 600,
      loginRateLimitPerMinute: 30,
    },
    broker: {
      host: '127.0.0.1',
      port: 1883,
      maxPacketBytes: 2 * 1024 * 1024,
      connectTimeoutMs: 10_000,
      security: 'mtls',
      tlsHostnames: [],
      rateLimits: { publishesPerSecond: 1000, publishBurst: 5000, connectionsPerIpPerMinute: 600 },
    },
    mqttUrl: undefined,
    database: { url: undefined, dataDir: undefined },
    adminToken: undefined,
    keys: { keyFile: undefined },
    audit: { checkpointDir: undefined, checkpointKeyFile: undefined, archiveDir: undefined },
    auth: { accessTokenTtlS: 15 * 60, refreshAbsoluteTtlDays: 30, password: DEFAULT_PASSWORD_PARAMS, throttle: DEFAULT_THROTTLE_LIMITS },
    ingest: { maxRowsPerWrite: 10_000, maxTapsPerMatch: 5_000, matchWaitWhileReceivingMs: 1_000, maxTapsPerMatchWhileReceiving: 500 },
    pki: { certificateLifetimeDays: 30 },
    commands: { timeoutMs: 15_000 },
    sessions: { openBeforeMinutes: 10, closeAfterMinutes: 10, finalizeGraceMinutes: 15, finalizeTimeoutMinutes: 120, notTakenEscalateMinutes: 24 * 60 },
    scheduler: { intervalMs: 30_000 },
    attendance: { lateGraceMinutes: 10, matchBeforeMinutes: 15, duplicateWindowSeconds: 60, qrWindowSeconds: 15 },
    notifications: {
      webhooks: [],
      smtp: undefined,
      dispatchIntervalMs: 2_000,
      retry: { baseMs: 30_000, maxMs: 3_600_000, maxAttempts: 12 },
      rules: { guardianOnAbsence: false, consecutiveAbsences: 3, belowThresholdPercent: 75 },
    },
    leave: { backdateDays: 30 },
    corrections: {
      disputeWindowDays: 7,
      facultyWindowHours: 48,
      slaHours: 48,
      reasonCodes: ['device_fault', 'data_entry_error', 'late_sync', 'wrong_session', 'other'],
      evidenceMaxBytes: 2 * 1024 * 1024,
      evidenceTypes: ['application/pdf', 'image/png', 'image/jpeg'],
    },
    logLevel: 'info',
  };
}
