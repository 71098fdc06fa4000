import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { RULES, type RoutePolicy } from '../auth/rules.js';

const HIDDEN = { hide: true } as const;

function describePolicy(policy: RoutePolicy | undefined): string {
  if (policy === undefined || policy === 'public') return 'Public: no credentials needed.';
  const rule = RULES[policy];
  return `Authorization: rule \`${policy}\` (${rule.description}), roles ${rule.roles.join(', ')}${'object' in rule ? ', checked against the object' : ''}.`;
}

/**
 * The API reference: the OpenAPI document built from every route's schema
 * (`GET /docs/openapi.json`) and a plain HTML page of it (`GET /docs`) that
 * needs no script from anywhere. Registered before the routes, so that it
 * sees them all.
 */
export async function installApiDocs(app: FastifyInstance, version: string): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'CampusHub360 Attendance API',
        version,
        description: 'Errors have one shape: `{error, message, details}`. Lists are paged with an opaque `cursor`. See docs/security.md for roles and rules.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An access token from POST /api/v1/auth/login, or an API key' } } },
    },
    transform({ schema, url, route }) {
      const policy = route.config?.policy;
      const documented = {
        ...schema,
        description: [schema?.description, describePolicy(policy)].filter(Boolean).join('\n\n'),
        tags: [url.split('/')[3] ?? url.split('/')[1] ?? 'hub'],
        ...(policy === 'public' ? { security: [] } : { security: [{ bearer: [] }] }),
      };
      return { schema: documented, url };
    },
  });

  app.get('/docs/openapi.json', { config: { policy: 'public' }, schema: HIDDEN }, async () => app.swagger());

  app.get('/docs', { config: { policy: 'public' }, schema: HIDDEN }, async (_request, reply) => {
    const document = app.swagger() as { info: { title: string; version: string }; paths: Record<string, Record<string, { summary?: string; description?: string }>> };
    const rows = Object.entries(document.paths)
      .flatMap(([path, operations]) => Object.entries(operations).map(([method, operation]) => ({ path, method, operation })))
      .sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method))
      .map(
        ({ path, method, operation }) =>
          `<tr><td><code>${method.toUpperCase()}</code></td><td><code>${escapeHtml(path)}</code></td><td>${escapeHtml(operation.summary ?? '')}<br><small>${escapeHtml(
            (operation.description ?? '').split('\n\n').at(-1) ?? '',
          )}</small></td></tr>`,
      )
      .join('\n');
    return reply.type('text/html; charset=utf-8').send(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(document.info.title)}</title>
<style>body{font:15px/1.4 system-ui,sans-serif;margin:2rem;max-width:70rem}table{border-collapse:collapse;width:100%}td{border-top:1px solid #ccc;padding:.4rem;vertical-align:top}small{color:#444}</style>
</head><body><h1>${escapeHtml(document.info.title)} <small>${escapeHtml(document.info.version)}</small></h1>
<p>The machine-readable document is at <a href="/docs/openapi.json">/docs/openapi.json</a> (OpenAPI 3).</p>
<table><tbody>
${rows}
</tbody></table></body></html>`);
  });
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
