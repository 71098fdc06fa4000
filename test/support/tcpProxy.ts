import { createServer, connect, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  /** Where clients connect instead of the target, e.g. `mqtt://127.0.0.1:PORT` is built from it. */
  port: number;
  /** Whether connections are let through now. */
  readonly up: boolean;
  /** Connections let through since start. */
  readonly connections: number;
  /** Cuts the link: every open connection is destroyed at once, and new ones are refused until restore(). */
  cut(): void;
  /** A black hole: connections stay open but every byte is dropped, both ways, until restore(). */
  stall(): void;
  restore(): void;
  close(): Promise<void>;
}

/**
 * A TCP proxy a test controls, to cut a link and restore it: a cut destroys
 * both sides of every connection (as a pulled cable seen by a keepalive
 * would) and refuses new connections until the link is restored.
 */
export async function startTcpProxy(target: { host: string; port: number }, { up = true }: { up?: boolean } = {}): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let linkUp = up;
  let stalled = false;
  let connections = 0;
  const server: Server = createServer((client) => {
    if (!linkUp) {
      client.destroy();
      return;
    }
    connections++;
    const upstream = connect(target.port, target.host);
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.setNoDelay(true);
      socket.on('error', () => {});
      socket.on('close', () => {
        open.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (bytes: Buffer) => void (stalled || upstream.write(bytes)));
    upstream.on('data', (bytes: Buffer) => void (stalled || client.write(bytes)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('the proxy has no address');
  return {
    port: address.port,
    get up() {
      return linkUp;
    },
    get connections() {
      return connections;
    },
    cut() {
      linkUp = false;
      for (const socket of open) socket.destroy();
    },
    stall() {
      stalled = true;
    },
    restore() {
      linkUp = true;
      stalled = false;
    },
    close() {
      linkUp = false;
      for (const socket of open) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
