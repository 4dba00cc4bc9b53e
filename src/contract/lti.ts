import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';

/**
 * LTI 1.3 endpoints for the document. lti/routes.ts implements them (form posts and HTML pages for
 * the platform's browser); here they are only described. They take no bearer token.
 */
const tags = ['LTI 1.3'];
const security: Array<Record<string, string[]>> = [];
const html = (description: string) => ({ description, content: { 'text/html': { schema: z.string() } } });
const form = <T extends z.ZodType>(schema: T, description: string) => ({
  required: true,
  description,
  content: { 'application/x-www-form-urlencoded': { schema } },
});

const LoginInitiation = z.object({
  iss: z.string().openapi({ description: 'platform issuer' }),
  login_hint: z.string(),
  target_link_uri: z.string().url(),
  lti_message_hint: z.string().optional(),
  client_id: z.string().optional(),
  lti_deployment_id: z.string().optional(),
});
const Ticket = z.object({
  ticket: z.string().openapi({ description: 'the #lti_ticket from the launch redirect' }),
  state: z.string().optional(),
});
const Session = z
  .object({
    token: z.string(),
    tokenType: z.literal('Bearer'),
    expiresAt: z.string().datetime(),
    redirectTo: z.string(),
  })
  .openapi('LtiSession');
const ticketExchange = (path: string, summary: string) =>
  createRoute({
    method: 'post',
    path,
    tags,
    security,
    summary,
    description: 'Needs the header X-LTI-Confirm: 1 and a JSON body (a cross-site form cannot send either).',
    request: { body: { required: true, content: { 'application/json': { schema: Ticket } } } },
    responses: {
      200: { description: 'A bearer session for /api/v1', content: { 'application/json': { schema: Session } } },
      403: { description: 'Missing confirmation header, or an unknown, used or expired ticket' },
    },
  });

export const ltiOperations = [
  createRoute({
    method: 'get',
    path: '/lti/login',
    tags,
    security,
    summary: 'OIDC third-party login initiation (query)',
    request: { query: LoginInitiation },
    responses: { 200: html('Auto-submitting redirect to the platform (state and nonce set)'), 400: html('Error page') },
  }),
  createRoute({
    method: 'post',
    path: '/lti/login',
    tags,
    security,
    summary: 'OIDC third-party login initiation (form post)',
    request: { body: form(LoginInitiation, 'Login initiation parameters') },
    responses: { 200: html('Auto-submitting redirect to the platform (state and nonce set)'), 400: html('Error page') },
  }),
  createRoute({
    method: 'post',
    path: '/lti/launch',
    tags,
    security,
    summary: 'Resource link launch: the platform posts the signed id_token',
    description:
      'Validates the token (issuer, audience, deployment, nonce, state), links or creates the person and the course, ' +
      'records the membership, and redirects to the app with a one-time ticket.',
    request: {
      body: form(z.object({ id_token: z.string(), state: z.string() }), 'The authentication response'),
    },
    responses: {
      200: html('A page that continues to the app'),
      302: { description: 'Redirect to /app with #lti_ticket' },
      400: html('Error page (invalid token, unknown deployment, replayed nonce, …)'),
    },
  }),
  ticketExchange('/lti/launch/confirm', 'Redeem a launch ticket for a session (after confirmation)'),
  ticketExchange('/lti/session', 'Redeem a launch ticket for a bearer session'),
  createRoute({
    method: 'get',
    path: '/lti/me',
    tags,
    summary: 'The launch session behind the bearer token',
    responses: { 200: { description: 'The session principal' }, 401: { description: 'No valid session' } },
  }),
  createRoute({
    method: 'get',
    path: '/lti/jwks',
    tags,
    security,
    summary: "The tool's public keys (JWKS)",
    responses: { 200: { description: 'JSON Web Key Set (cached 5 minutes)' } },
  }),
  createRoute({
    method: 'get',
    path: '/lti/register',
    tags,
    security,
    summary: 'LTI Dynamic Registration (from a one-time link)',
    request: {
      query: z.object({
        openid_configuration: z.string().url(),
        registration_token: z.string().optional(),
        rb: z.string().optional().openapi({ description: 'the one-time link token' }),
      }),
    },
    responses: { 200: html('Registration done (closes the platform dialog)'), 400: html('Error page') },
  }),
];

export function describeLti(app: OpenAPIHono) {
  for (const route of ltiOperations) app.openAPIRegistry.registerPath(route);
}
