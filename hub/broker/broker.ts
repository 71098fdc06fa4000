import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Aedes } from 'aedes';
import type { Logger } from 'pino';
import { guardConnection, type GuardViolation } from './packetGuard.js';

export interface EmbeddedBrokerOptions {
  host: string;
  port: number;
  maxPacketBytes: number;
  connectTimeoutMs: number;
  logger: Logger;
  onGuardViolation?: (violation: GuardViolation) => void;
}

export interface EmbeddedBroker {
  /** mqtt://host:port of the listening socket, for the hub's own client and for agents. */
  url: string;
  port: number;
  connectedClients(): number;
  close(): Promise<void>;
}

/**
 * The embedded aedes broker. It is only a broker: the hub reads and writes
 * through an ordinary MQTT client, exactly as it does with an external broker.
 * Plain and unauthenticated: development mode until agent certificates exist.
 */
export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const log = options.logger.child({ ns: 'hub:broker' });
  const aedes = await Aedes.createBroker({
    connectTimeout: options.connectTimeoutMs,
    drainTimeout: 30_000,
    // aedes's own check: nobody may publish into the broker's $SYS tree.
    authorizePublish(_client, packet, callback) {
      callback(packet.topic.startsWith('$SYS') ? new Error('$SYS topics are reserved') : null);
    },
  });
  aedes.on('clientError', (client, error) => log.debug({ clientId: client.id, err: error.message }, 'client error'));
  aedes.on('connectionError', (_client, error) => log.debug({ err: error.message }, 'connection error'));

  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    aedes.handle(
      guardConnection(socket, options.maxPacketBytes, (violation, announced) => {
        log.warn({ remote, violation, announced, limit: options.maxPacketBytes }, 'closed an MQTT connection that broke the packet limit');
        options.onGuardViolation?.(violation);
      }),
    );
  });
  server.listen(options.port, options.host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  log.info({ port }, 'embedded MQTT broker listening');
  return {
    url: `mqtt://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    port,
    connectedClients: () => aedes.connectedClients,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
    },
  };
}
