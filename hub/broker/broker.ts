import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import type { Logger } from 'pino';
import { clientIdMatches, describeIdentity, identityFromCertificate, mayPublish, maySubscribe, type BrokerIdentity } from './acl.js';
import { guardConnection, type GuardViolation } from './packetGuard.js';

export interface BrokerRateLimits {
  /** Sustained PUBLISH packets per second one client may send; beyond the burst the connection is closed. */
  publishesPerSecond: number;
  publishBurst: number;
  /** New connections one IP address may open per minute; more are closed before TLS and before CONNECT. */
  connectionsPerIpPerMinute: number;
}

/** Mutual TLS: the hub CA, the broker's own server certificate, and the revocation check. */
export interface BrokerTls {
  caCertificatePem: string;
  keyPem: string;
  certificatePem: string;
  isRevoked(serial: string): boolean;
}

export type BrokerRefusal = 'revoked' | 'unknown_identity' | 'client_id' | 'connection_rate' | 'publish_rate' | 'publish_denied' | 'tls';

export interface EmbeddedBrokerOptions {
  host: string;
  port: number;
  maxPacketBytes: number;
  connectTimeoutMs: number;
  logger: Logger;
  /** With TLS: only clients with a certificate of the hub CA connect, and each is held to its own topics. Without: development mode. */
  tls?: BrokerTls;
  rateLimits: BrokerRateLimits;
  onGuardViolation?: (violation: GuardViolation) => void;
  onRefused?: (reason: BrokerRefusal) => void;
}

export interface EmbeddedBroker {
  /** mqtt:// (development) or mqtts:// (mutual TLS) host:port of the listening socket. */
  url: string;
  port: number;
  connectedClients(): number;
  /** Closes every live session of the certificate with this serial; returns how many. */
  disconnectSerial(serial: string): number;
  close(): Promise<void>;
}

function authError(message: string, returnCode: 2 | 5): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

class TokenBucket {
  private tokens: number;
  private last = Date.now();
  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }
  take(): boolean {
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/**
 * The embedded aedes broker. It is only a broker: the hub reads and writes
 * through an ordinary MQTT client, exactly as it does with an external one.
 *
 * With `tls` it listens for mutual TLS only (TLS 1.2+, a client certificate
 * of the hub CA required; foreign and expired certificates fail the
 * handshake), maps each certificate to its identity, refuses revoked
 * serials and client ids that are not the certificate's, and holds every
 * agent to its own topic subtree. Without `tls` it is the development
 * broker: plain MQTT, anyone may connect. Both keep the packet guard and the
 * rate limits in front of aedes.
 */
export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const log = options.logger.child({ ns: 'hub:broker' });
  const tls = options.tls;
  const limits = options.rateLimits;
  const identities = new WeakMap<Duplex, BrokerIdentity>();
  const buckets = new WeakMap<Client, TokenBucket>();
  const live = new Set<Client>();
  const refuse = (reason: BrokerRefusal, details: Record<string, unknown>) => {
    log.warn({ reason, ...details }, 'refused an MQTT client');
    options.onRefused?.(reason);
  };
  const identityOf = (client: Client | null): BrokerIdentity | undefined => (client ? identities.get(client.conn as Duplex) : undefined);

  const aedes = await Aedes.createBroker({
    connectTimeout: options.connectTimeoutMs,
    drainTimeout: 30_000,
    authenticate(client, _username, _password, done) {
      const identity = identityOf(client);
      if (!identity) return done(authError('no identity for this connection', 5), false);
      if (!clientIdMatches(identity, client.id)) {
        refuse('client_id', { clientId: client.id, identity: describeIdentity(identity) });
        return done(authError(`client id ${client.id} does not belong to ${describeIdentity(identity)}`, 2), false);
      }
      if (identity.kind !== 'anonymous' && tls?.isRevoked(identity.serial)) {
        refuse('revoked', { serial: identity.serial, identity: describeIdentity(identity) });
        return done(authError('certificate revoked', 5), false);
      }
      live.add(client);
      done(null, true);
    },
    authorizePublish(client, packet, callback) {
      // aedes's own check must survive: nobody publishes into `$SYS`. Broker-internal publishes have no client.
      if (!client) return callback(packet.topic.startsWith('$SYS') ? new Error('$SYS topics are reserved') : null);
      const identity = identityOf(client);
      if (!identity || !mayPublish(identity, packet.topic)) {
        refuse('publish_denied', { clientId: client.id, topic: packet.topic });
        return callback(new Error(`not authorized to publish on ${packet.topic}`));
      }
      if (identity.kind !== 'hub') {
        let bucket = buckets.get(client);
        if (!bucket) buckets.set(client, (bucket = new TokenBucket(limits.publishesPerSecond, limits.publishBurst)));
        if (!bucket.take()) {
          refuse('publish_rate', { clientId: client.id });
          return callback(new Error('publish rate limit exceeded'));
        }
      }
      callback(null);
    },
    authorizeSubscribe(client, subscription, callback) {
      const identity = identityOf(client);
      if (!identity || !maySubscribe(identity, subscription.topic)) {
        log.warn({ clientId: client.id, filter: subscription.topic }, 'negated a subscription outside the client\'s own topics');
        return callback(null, null);
      }
      callback(null, subscription);
    },
  });
  aedes.on('clientError', (client, error) => log.debug({ clientId: client.id, err: error.message }, 'client error'));
  aedes.on('connectionError', (_client, error) => log.debug({ err: error.message }, 'connection error'));
  aedes.on('clientDisconnect', (client) => live.delete(client));

  // Per-IP connection counts in fixed one-minute windows.
  const connectionCounts = new Map<string, number>();
  const windowTimer = setInterval(() => connectionCounts.clear(), 60_000);
  windowTimer.unref();
  const sockets = new Set<Socket>();
  const admit = (socket: Socket): boolean => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const ip = socket.remoteAddress ?? 'unknown';
    const count = (connectionCounts.get(ip) ?? 0) + 1;
    connectionCounts.set(ip, count);
    if (count > limits.connectionsPerIpPerMinute) {
      if (count === limits.connectionsPerIpPerMinute + 1) refuse('connection_rate', { ip, limit: limits.connectionsPerIpPerMinute });
      else options.onRefused?.('connection_rate');
      socket.destroy();
      return false;
    }
    return true;
  };
  const hand = (socket: Socket, identity: BrokerIdentity) => {
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const stream = guardConnection(socket, options.maxPacketBytes, (violation, announced) => {
      log.warn({ remote, violation, announced, limit: options.maxPacketBytes }, 'closed an MQTT connection that broke the packet limit');
      options.onGuardViolation?.(violation);
    });
    identities.set(stream, identity);
    aedes.handle(stream);
  };

  let server: Server;
  if (tls) {
    server = createTlsServer(
      {
        key: tls.keyPem,
        cert: tls.certificatePem,
        ca: tls.caCertificatePem,
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: 'TLSv1.2',
        handshakeTimeout: options.connectTimeoutMs,
      },
      (socket: TLSSocket) => {
        const certificate = socket.getPeerCertificate();
        const commonName = Array.isArray(certificate.subject?.CN) ? undefined : certificate.subject?.CN;
        const serial = (certificate.serialNumber ?? '').toLowerCase().replace(/^0+/, '');
        const identity = commonName ? identityFromCertificate(commonName, serial) : null;
        if (!identity) {
          refuse('unknown_identity', { commonName, serial });
          socket.destroy();
          return;
        }
        // A revoked certificate goes no further than the handshake: aedes never reads a byte from it.
        if (tls.isRevoked(serial)) {
          refuse('revoked', { serial, identity: describeIdentity(identity) });
          socket.destroy();
          return;
        }
        hand(socket, identity);
      },
    );
    server.on('connection', (socket: Socket) => {
      admit(socket);
    });
    server.on('tlsClientError', (error, socket) => {
      options.onRefused?.('tls');
      log.info({ remote: socket.remoteAddress, err: error.message }, 'TLS handshake refused');
    });
  } else {
    server = createServer((socket) => {
      if (admit(socket)) hand(socket, { kind: 'anonymous' });
    });
  }
  server.listen(options.port, options.host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const scheme = tls ? 'mqtts' : 'mqtt';
  log.info({ port, security: tls ? 'mtls' : 'development' }, tls ? 'embedded MQTT broker listening (mutual TLS)' : 'embedded MQTT broker listening (development mode: plain, unauthenticated MQTT)');
  return {
    url: `${scheme}://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    port,
    connectedClients: () => aedes.connectedClients,
    disconnectSerial(serial) {
      const wanted = serial.toLowerCase().replace(/^0+/, '');
      let closed = 0;
      for (const client of live) {
        const identity = identityOf(client);
        if (identity && identity.kind !== 'anonymous' && identity.serial === wanted) {
          live.delete(client);
          client.close();
          (client.conn as Duplex).destroy();
          closed++;
        }
      }
      if (closed > 0) log.warn({ serial: wanted, closed }, 'closed the live sessions of a revoked certificate');
      return closed;
    },
    async close() {
      clearInterval(windowTimer);
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
    },
  };
}
