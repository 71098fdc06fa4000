import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { FormatRegistry } from '@sinclair/typebox';
import { MAX_MESSAGE_BYTES } from './schemas.js';

// TypeBox checks `format` only for formats registered here.
if (!FormatRegistry.Has('date-time')) {
  FormatRegistry.Set('date-time', (value) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value) && !Number.isNaN(Date.parse(value)));
}

export type DecodeErrorCode = 'too_large' | 'bad_json' | 'schema';

export interface DecodeError {
  code: DecodeErrorCode;
  /** Says what was wrong and where, e.g. `/events/3/deviceId: Expected string`. */
  message: string;
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; error: DecodeError };

export interface Validator<S extends TSchema> {
  check(value: unknown): value is Static<S>;
  /** The first few problems, each as `path: message`, or '' when the value is valid. */
  explain(value: unknown): string;
}

const MAX_REPORTED_ERRORS = 3;

export function validator<S extends TSchema>(schema: S): Validator<S> {
  const compiled: TypeCheck<S> = TypeCompiler.Compile(schema);
  return {
    check: (value): value is Static<S> => compiled.Check(value),
    explain(value) {
      const parts: string[] = [];
      for (const error of compiled.Errors(value)) {
        parts.push(`${error.path || '/'}: ${error.message}`);
        if (parts.length === MAX_REPORTED_ERRORS) break;
      }
      return parts.join('; ');
    },
  };
}

/** Bytes → a validated message, or a typed error. Never throws. */
export function decode<S extends TSchema>(
  payload: Uint8Array,
  check: Validator<S>,
  maxBytes: number = MAX_MESSAGE_BYTES,
): Decoded<Static<S>> {
  if (payload.byteLength > maxBytes) {
    return { ok: false, error: { code: 'too_large', message: `message of ${payload.byteLength} bytes exceeds the limit of ${maxBytes}` } };
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8'));
  } catch (error) {
    return { ok: false, error: { code: 'bad_json', message: `not JSON: ${(error as Error).message}` } };
  }
  if (!check.check(value)) return { ok: false, error: { code: 'schema', message: check.explain(value) } };
  return { ok: true, value };
}

export function encode(message: unknown): Buffer {
  return Buffer.from(JSON.stringify(message));
}
