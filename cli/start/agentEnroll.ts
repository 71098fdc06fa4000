import { enrollAgent, identityDir } from '../../agent/identity.js';
import type { ParsedArgs } from '../commands/command.js';
import { requiredArg } from './args.js';

export async function runAgentEnroll(args: ParsedArgs): Promise<number> {
  const dataDir = requiredArg(args, 'data-dir');
  const identity = await enrollAgent({
    hubUrl: requiredArg(args, 'hub'),
    token: requiredArg(args, 'token'),
    caFingerprint: requiredArg(args, 'ca-fingerprint'),
    agentId: requiredArg(args, 'agent-id'),
    dataDir,
  });
  console.log(
    JSON.stringify({
      enrolled: `${identity.campusId}/${identity.agentId}`,
      serial: identity.serial,
      notAfter: identity.notAfter.toISOString(),
      identityDir: identityDir(dataDir),
    }),
  );
  return 0;
}
