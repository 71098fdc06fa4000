/**
 * A stand-in for fingerprint biometrics. Each simulated finger has a fixed
 * random feature vector; every capture of it flips a few bytes, as a real
 * capture differs a little each time. Two feature sets match when most of
 * their bytes agree, so a template made from one finger matches later
 * captures of that finger and nothing else, and a template that travels to
 * the host and back still matches.
 */

/** Bytes a capture changes, as a fraction of the template. */
const CAPTURE_NOISE = 0.06;
/** Score of two identical feature sets. Real R30x modules report scores of this order. */
export const PERFECT_SCORE = 300;
/** Least score that counts as a match, by security level 1–5 (stricter levels want more). */
const THRESHOLD_BY_LEVEL = [0, 60, 80, 100, 120, 140] as const;

/** A deterministic pseudo-random sequence (mulberry32), so a finger is the same in every test run. */
function randomSequence(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** The features capture number `capture` of finger `fingerId` yields, `size` bytes long. */
export function captureFeatures(fingerId: number, capture: number, size: number): Buffer {
  const finger = randomSequence(fingerId * 2_654_435_761);
  const features = Buffer.alloc(size);
  for (let index = 0; index < size; index++) features[index] = Math.floor(finger() * 256);
  const noise = randomSequence(fingerId * 40_503 + capture * 2_246_822_519 + 1);
  for (let index = 0; index < size; index++) if (noise() < CAPTURE_NOISE) features[index] = Math.floor(noise() * 256);
  return features;
}

export function matchScore(a: Buffer, b: Buffer): number {
  if (a.length !== b.length || a.length === 0) return 0;
  let agreeing = 0;
  for (let index = 0; index < a.length; index++) if (a[index] === b[index]) agreeing++;
  return Math.round((agreeing / a.length) * PERFECT_SCORE);
}

export function isMatch(score: number, securityLevel: number): boolean {
  return score >= (THRESHOLD_BY_LEVEL[securityLevel] ?? THRESHOLD_BY_LEVEL[3]);
}

