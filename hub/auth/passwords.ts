import { hash, verify } from '@node-rs/argon2';
import { dictionary } from '@zxcvbn-ts/language-common';

/** argon2id cost. OWASP's floor is m = 19 MiB, t = 2, p = 1; raising these re-hashes each password at its next sign-in. */
export interface PasswordParams {
  memoryKiB: number;
  iterations: number;
  parallelism: number;
}

export const DEFAULT_PASSWORD_PARAMS: PasswordParams = { memoryKiB: 19_456, iterations: 2, parallelism: 1 };

export const MIN_PASSWORD_LENGTH = 8;
/** Long passphrases are welcome; the cap only stops a megabyte "password" from being hashed. */
export const MAX_PASSWORD_LENGTH = 1024;

let commonPasswords: Set<string> | undefined;

function isCommon(password: string): boolean {
  commonPasswords ??= new Set(dictionary['passwords-common'] as string[]);
  return commonPasswords.has(password.toLowerCase());
}

/** Why a new password is refused, or null when it is acceptable. */
export function passwordProblem(password: string, username?: string): string | null {
  const length = [...password].length;
  if (length < MIN_PASSWORD_LENGTH) return `a password needs at least ${MIN_PASSWORD_LENGTH} characters`;
  if (length > MAX_PASSWORD_LENGTH) return `a password may have at most ${MAX_PASSWORD_LENGTH} characters`;
  if (isCommon(password)) return 'this password is on the list of commonly used passwords; choose another';
  if (username && password.toLowerCase() === username.toLowerCase()) return 'a password may not be the username';
  return null;
}

export interface PasswordHasher {
  readonly params: PasswordParams;
  hash(password: string): Promise<string>;
  /** Checks a password. `stale` is true when the stored hash used weaker parameters than the current ones. */
  verify(stored: string, password: string): Promise<{ ok: boolean; stale: boolean }>;
  /** Costs one verification like `verify`, against a hash of nothing, so that an unknown user takes as long as a wrong password. */
  verifyDummy(password: string): Promise<void>;
}

function parsePhcParams(stored: string): PasswordParams | null {
  const match = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(stored);
  return match ? { memoryKiB: Number(match[1]), iterations: Number(match[2]), parallelism: Number(match[3]) } : null;
}

/**
 * argon2id hashing with the parameters in the PHC string. `onVerify` is
 * called once per verification, real or dummy (a metric counts them).
 */
export async function createPasswordHasher(params: PasswordParams = DEFAULT_PASSWORD_PARAMS, onVerify: () => void = () => {}): Promise<PasswordHasher> {
  // 2 is Algorithm.Argon2id, a const enum that isolated modules cannot read.
  const options = { algorithm: 2 as const, memoryCost: params.memoryKiB, timeCost: params.iterations, parallelism: params.parallelism };
  const dummy = await hash('campushub dummy password for unknown users', options);
  return {
    params,
    hash: (password) => hash(password, options),
    async verify(stored, password) {
      onVerify();
      const used = parsePhcParams(stored);
      const ok = used !== null && (await verify(stored, password).catch(() => false));
      const stale =
        used !== null && (used.memoryKiB < params.memoryKiB || used.iterations < params.iterations || used.parallelism < params.parallelism);
      return { ok, stale };
    },
    async verifyDummy(password) {
      onVerify();
      await verify(dummy, password).catch(() => false);
    },
  };
}
