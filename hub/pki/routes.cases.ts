import { statusIn, type RouteCases } from '../../test/support/routeMatrix.js';
import { weakCsr } from '../../test/support/pki.js';

// Calls the policy lets through end in a validation answer: proof that the route ran, without enrolling anything.
const weakKey = (response: Response, body: { error?: string }) => response.status === 400 && body.error === 'weak_key';

export const routeCases: RouteCases = {
  cases: {
    'POST /api/v1/pki/enrollment-tokens': { audits: ['pki.enrollment-token.issue'], request: () => ({ path: '/api/v1/pki/enrollment-tokens', body: { campusId: 'main' } }), succeeded: statusIn([201]) },
    'POST /api/v1/pki/enroll': { audits: ['pki.certificate.issue'],
      request: () => ({ path: '/api/v1/pki/enroll', body: { token: 'not-a-token', agentId: 'agent-1', csrPem: weakCsr() } }),
      succeeded: weakKey,
    },
    'POST /api/v1/pki/renew': { audits: ['pki.certificate.renew'],
      request: () => ({
        path: '/api/v1/pki/renew',
        body: { certificatePem: 'not a certificate '.repeat(8), csrPem: weakCsr(), signedAt: new Date().toISOString(), signature: 'A'.repeat(344) },
      }),
      succeeded: weakKey,
    },
    'GET /api/v1/pki/certificates': { request: () => ({ path: '/api/v1/pki/certificates' }), succeeded: statusIn([200]) },
    'POST /api/v1/pki/certificates/:serial/revoke': { audits: ['pki.certificate.revoke'],
      request: () => ({ path: '/api/v1/pki/certificates/0a1b2c3d/revoke', body: { reason: 'route matrix' } }),
      succeeded: (response, body) => response.status === 404 && body.error === 'not_found',
    },
    'GET /api/v1/pki/ca': { request: () => ({ path: '/api/v1/pki/ca' }), succeeded: statusIn([200]) },
    'POST /api/v1/pki/broker-certificates': { audits: ['pki.certificate.issue'],
      request: () => ({ path: '/api/v1/pki/broker-certificates', body: { role: 'hub', csrPem: weakCsr(), hostnames: [] } }),
      succeeded: weakKey,
    },
  },
};
