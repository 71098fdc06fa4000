#!/usr/bin/env node
import { describeFatalError, main } from './dispatch.js';

const io = {
  stdout: (text: string) => void process.stdout.write(text),
  stderr: (text: string) => void process.stderr.write(text),
};

// Errors thrown outside a command's run() (a listener, a timer) end up here instead of Node's stack dump.
const debug = process.env.LOG_LEVEL === 'debug' || process.env.LOG_LEVEL === 'trace';
const onFatal = (error: unknown) => {
  io.stderr(`campushub: ${describeFatalError(error, debug)}\n`);
  process.exit(1);
};
process.on('uncaughtException', onFatal);
process.on('unhandledRejection', onFatal);

// Exit explicitly: a stopped server may leave a handle (a keep-alive socket, a timer) that would keep the process up.
process.exit(await main(process.argv.slice(2), process.env, io));
