import type { FastifyError, FastifyInstance } from 'fastify';

/** The one error shape of the REST API: `{error, message, details}`. */
export const ErrorResponse = {
  type: 'object',
  required: ['error', 'message', 'details'],
  properties: {
    error: { type: 'string' },
    message: { type: 'string' },
    details: {},
  },
} as const;

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details: unknown = null,
  ) {
    super(message);
  }
}

export function installErrorShape(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | HttpError, request, reply) => {
    if (error instanceof HttpError) {
      const retryAfter = (error.details as { retryAfterSeconds?: unknown } | null)?.retryAfterSeconds;
      if (error.statusCode === 429 && typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter));
      if (error.statusCode === 401) reply.header('www-authenticate', 'Bearer realm="campushub"');
      return reply.code(error.statusCode).send({ error: error.code, message: error.message, details: error.details });
    }
    if (error.validation) {
      return reply.code(400).send({
        error: 'invalid_request',
        message: `invalid ${error.validationContext ?? 'request'}: ${error.message}`,
        details: error.validation.map((issue) => ({ path: issue.instancePath || '/', message: issue.message ?? 'invalid', params: issue.params })),
      });
    }
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    return reply.code(status).send({
      error: status >= 500 ? 'internal' : (error.code ?? 'error').toLowerCase(),
      message: status >= 500 ? 'internal error; see the hub log for the request id' : error.message,
      details: status >= 500 ? { requestId: request.id } : null,
    });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}`, details: null }),
  );
}
