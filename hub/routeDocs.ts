// Route schemas carry a summary for the API reference (OpenAPI at /docs arrives with the hub-core issue).
declare module 'fastify' {
  interface FastifySchema {
    summary?: string;
  }
}

export {};
