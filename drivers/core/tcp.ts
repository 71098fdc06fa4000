import { EventEmitter } from 'node:events';
import { Socket } from 'node:net';
import type { ByteLink, ByteLinkEvents, ByteLinkFactory } from './link.js';

export interface TcpLinkOptions {
  host: string;
  port: number;
  /** Shown in logs, e.g. `serial+tcp://10.0.0.7:4001`. Default `tcp://host:port`. */
  description?: string;
  /** Give up a connection attempt after this many ms (1–600000, default 5000). */
  connectTimeoutMs?: number;
  /**
   * Idle time in ms before the OS starts TCP keepalive probes (1000–7200000,
   * default 10000). Keepalive is how a peer that vanished without a FIN (power
   * cut, cable pulled at a device server) is noticed on a link that only
   * receives: the OS probes, gives up and the socket closes with an error.
   * How many probes and how far apart is left to the OS (Linux: net.ipv4.tcp_keepalive_*).
   */
  keepAliveDelayMs?: number;
}

const TCP_LINK_DEFAULTS = { connectTimeoutMs: 5_000, keepAliveDelayMs: 10_000 } as const;

/** Opens a fresh TCP socket per call: tcp:// devices and serial+tcp:// device servers (ser2net raw mode). */
export function tcpLinkFactory(options: TcpLinkOptions): ByteLinkFactory {
  return () => openTcpLink(options);
}

async function openTcpLink(options: TcpLinkOptions): Promise<ByteLink> {
  const { host, port, connectTimeoutMs = TCP_LINK_DEFAULTS.connectTimeoutMs, keepAliveDelayMs = TCP_LINK_DEFAULTS.keepAliveDelayMs } = options;
  const description = options.description ?? `tcp://${host}:${port}`;
  const socket = new Socket();
  await new Promise<void>((resolve, reject) => {
    const fail = (error: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new Error(`${description}: ${error.message}`, { cause: error }));
    };
    const timer = setTimeout(() => fail(new Error(`no connection within ${connectTimeoutMs} ms`)), connectTimeoutMs);
    socket.once('error', fail);
    socket.connect({ host, port }, () => {
      clearTimeout(timer);
      socket.off('error', fail);
      resolve();
    });
  });
  socket.setNoDelay(true);
  socket.setKeepAlive(true, keepAliveDelayMs);
  return new TcpLink(socket, description);
}

class TcpLink extends EventEmitter<ByteLinkEvents> implements ByteLink {
  private failure: Error | undefined;
  private closing = false;
  private readonly closed: Promise<void>;

  constructor(
    private readonly socket: Socket,
    readonly description: string,
  ) {
    super();
    socket.on('data', (bytes: Buffer) => this.emit('data', bytes));
    socket.on('error', (error) => {
      this.failure ??= error;
    });
    // A peer that ends the connection is a failure too: the device did not
    // choose to stop talking to us, so the supervisor must reconnect.
    socket.on('end', () => {
      this.failure ??= new Error('connection closed by the peer');
      socket.destroy();
    });
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.emit('close', this.closing ? undefined : (this.failure ?? new Error('connection lost')));
        resolve();
      });
    });
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.socket.destroyed) return Promise.reject(new Error(`${this.description}: link is closed`));
    return new Promise((resolve, reject) => {
      this.socket.write(bytes, (error) => (error ? reject(error) : resolve()));
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    this.socket.destroy();
    await this.closed;
  }
}
