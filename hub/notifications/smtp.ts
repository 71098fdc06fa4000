import { connect, type Socket } from 'node:net';

/**
 * A relay on the institution's network that accepts mail from the hub
 * without authentication (plain SMTP, RFC 5321): the minimal client below
 * speaks EHLO, MAIL, RCPT, DATA and QUIT, and nothing else. A relay that
 * needs STARTTLS or AUTH is not supported yet (docs/notifications.md).
 */
export interface SmtpSettings {
  host: string;
  port: number;
  /** The envelope and header sender, e.g. `attendance@college.example`. */
  from: string;
  /** The name the hub gives in EHLO. */
  helloName?: string;
}

export interface MailMessage {
  /** The notification id, which becomes the Message-ID so that a resent mail is recognisably the same one. */
  id: string;
  to: string;
  subject: string;
  text: string;
}

const TIMEOUT_MS = 10_000;
const HEADER_UNSAFE = /[\r\n]/;

export async function sendMail(settings: SmtpSettings, message: MailMessage): Promise<void> {
  for (const value of [settings.from, message.to, message.subject]) {
    if (HEADER_UNSAFE.test(value)) throw new Error('an address or subject contains a line break');
  }
  const socket = connect({ host: settings.host, port: settings.port });
  socket.setTimeout(TIMEOUT_MS, () => socket.destroy(new Error(`SMTP relay ${settings.host}:${settings.port} timed out`)));
  const replies = replyReader(socket);
  try {
    await replies.expect(220);
    const command = async (line: string, code: number) => {
      socket.write(`${line}\r\n`);
      await replies.expect(code);
    };
    await command(`EHLO ${settings.helloName ?? 'campushub'}`, 250);
    await command(`MAIL FROM:<${settings.from}>`, 250);
    await command(`RCPT TO:<${message.to}>`, 250);
    await command('DATA', 354);
    const body = message.text.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
    const headers = [
      `From: ${settings.from}`,
      `To: ${message.to}`,
      `Subject: ${message.subject}`,
      `Date: ${new Date().toUTCString()}`,
      `Message-ID: <${message.id}@campushub>`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
    ];
    await command(`${headers.join('\r\n')}\r\n\r\n${body}\r\n.`, 250);
    socket.write('QUIT\r\n');
  } finally {
    socket.end();
  }
}

/** Reads SMTP replies (multi-line ones joined) and checks their codes, in order. */
function replyReader(socket: Socket) {
  let buffered = '';
  const waiting: { code: number; resolve: () => void; reject: (error: Error) => void }[] = [];
  let failure: Error | undefined;
  const fail = (error: Error) => {
    failure ??= error;
    for (const waiter of waiting.splice(0)) waiter.reject(failure);
  };
  socket.on('error', fail);
  socket.on('close', () => fail(new Error('the SMTP relay closed the connection')));
  socket.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    for (let end = buffered.indexOf('\r\n'); end >= 0; end = buffered.indexOf('\r\n')) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      // "250-…" continues a reply; "250 …" ends it.
      if (line[3] === '-') continue;
      const waiter = waiting.shift();
      if (!waiter) continue;
      const code = Number(line.slice(0, 3));
      if (code === waiter.code) waiter.resolve();
      else waiter.reject(new Error(`SMTP relay answered "${line}" where ${waiter.code} was expected`));
    }
  });
  return {
    expect: (code: number) =>
      new Promise<void>((resolve, reject) => {
        if (failure) reject(failure);
        else waiting.push({ code, resolve, reject });
      }),
  };
}
