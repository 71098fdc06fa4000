import { createServer, type Socket } from 'node:net';
import type { TestContext } from 'node:test';

export interface ReceivedMail {
  from: string;
  to: string[];
  /** Headers and body as sent, dot-stuffing undone. */
  data: string;
}

export interface SmtpSink {
  host: string;
  port: number;
  mails: ReceivedMail[];
  /** The next `count` messages are refused at DATA with a 451, as a relay that is busy would. */
  refuseNext(count: number): void;
}

/**
 * A local SMTP server that accepts whatever it is sent and keeps it, for
 * tests of email delivery: enough of RFC 5321 for a plain client (EHLO/HELO,
 * MAIL, RCPT, DATA, RSET, NOOP, QUIT). Closed when the test ends.
 */
export async function startSmtpSink(t: TestContext): Promise<SmtpSink> {
  const mails: ReceivedMail[] = [];
  let refusals = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffered = '';
    let envelope: { from: string; to: string[] } = { from: '', to: [] };
    let data: string[] | null = null;
    const reply = (line: string) => socket.write(`${line}\r\n`);
    reply('220 sink.test ESMTP ready');
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      for (let end = buffered.indexOf('\r\n'); end >= 0; end = buffered.indexOf('\r\n')) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        if (data) {
          if (line !== '.') {
            data.push(line.startsWith('..') ? line.slice(1) : line);
            continue;
          }
          if (refusals > 0) {
            refusals--;
            reply('451 try again later');
          } else {
            mails.push({ ...envelope, data: data.join('\n') });
            reply('250 queued');
          }
          data = null;
          envelope = { from: '', to: [] };
          continue;
        }
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO') reply('250-sink.test\r\n250 8BITMIME');
        else if (verb === 'HELO' || verb === 'NOOP' || verb === 'RSET') reply('250 ok');
        else if (verb === 'MAIL') {
          envelope.from = /<(.*)>/.exec(line)?.[1] ?? '';
          reply('250 ok');
        } else if (verb === 'RCPT') {
          envelope.to.push(/<(.*)>/.exec(line)?.[1] ?? '');
          reply('250 ok');
        } else if (verb === 'DATA') {
          data = [];
          reply('354 end with <CRLF>.<CRLF>');
        } else if (verb === 'QUIT') {
          reply('221 bye');
          socket.end();
        } else reply('502 not implemented');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  const address = server.address() as { port: number };
  return { host: '127.0.0.1', port: address.port, mails, refuseNext: (count) => void (refusals = count) };
}
