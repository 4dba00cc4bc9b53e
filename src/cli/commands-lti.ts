import { rotateKeys } from '../../lti/keys.js';
import { createRegistrationLink } from '../../lti/registration.js';
import { addDeployment, addPlatform, listPlatforms, type PlatformView } from '../domain/platforms.js';
import { getTenantBySlug } from '../domain/tenants.js';
import { parseDuration } from '../domain/tokens.js';
import { resealStoredSecrets } from '../domain/tool-keys.js';
import type { Command, CommandContext } from './commands.js';
import { table, UsageError } from './io.js';

/** LTI platform registry and tool keys on the command line (the same operations as /api/v1/lti/platforms). */
function required(ctx: CommandContext, name: string): string {
  const v = ctx.flags[name];
  if (typeof v !== 'string' || v.trim() === '') throw new UsageError(`--${name} is required`);
  return v;
}

const describe = (p: PlatformView) =>
  [
    `Platform ${p.issuer} (client ${p.clientId}) for tenant ${p.tenantId}, id ${p.id}`,
    `  deployments: ${p.deploymentIds.join(', ') || '-'}`,
    `  login ${p.authLoginUrl}  token ${p.authTokenUrl}  jwks ${p.jwksUrl}`,
    `  identity claim ${p.identityClaim}; trust email ${p.trustEmail ? 'yes' : 'no'}; create just in time ${p.jitCreate ? 'yes' : 'no'}`,
  ].join('\n');

const platformFlags = {
  tenant: { type: 'string' },
  issuer: { type: 'string' },
  'client-id': { type: 'string' },
  'deployment-id': { type: 'string' },
} as const;

export const ltiCommands: Record<string, Command> = {
  'platform add': {
    usage:
      'platform add --tenant S --issuer I --client-id C --deployment-id D --auth-login-url U --auth-token-url U --jwks-url U [--trust-email] [--jit] [--identity-claim CLAIM] [--json]',
    options: {
      ...platformFlags,
      'auth-login-url': { type: 'string' },
      'auth-token-url': { type: 'string' },
      'jwks-url': { type: 'string' },
      'trust-email': { type: 'boolean' },
      jit: { type: 'boolean' },
      'identity-claim': { type: 'string' },
    },
    needsDb: true,
    async run(ctx) {
      const tenant = await getTenantBySlug(ctx.store, required(ctx, 'tenant'));
      const claim = ctx.flags['identity-claim'];
      const p = await addPlatform(ctx.store, ctx.actor, tenant.id, {
        issuer: required(ctx, 'issuer'),
        clientId: required(ctx, 'client-id'),
        deploymentId: required(ctx, 'deployment-id'),
        authLoginUrl: required(ctx, 'auth-login-url'),
        authTokenUrl: required(ctx, 'auth-token-url'),
        jwksUrl: required(ctx, 'jwks-url'),
        trustEmail: ctx.flags['trust-email'] === true,
        jitCreate: ctx.flags.jit === true,
        ...(typeof claim === 'string' ? { identityClaim: claim } : {}),
      });
      ctx.out.print(p, () => describe(p));
    },
  },
  // Three words on the command line ("platform deployment add"): the CLI matches two, the third is a positional.
  'platform deployment': {
    usage: 'platform deployment add --tenant S --issuer I --client-id C --deployment-id D [--json]',
    options: { ...platformFlags },
    needsDb: true,
    async run(ctx) {
      if (ctx.positionals[0] !== 'add') throw new UsageError('expected "platform deployment add"');
      const tenant = await getTenantBySlug(ctx.store, required(ctx, 'tenant'));
      const p = await addDeployment(ctx.store, ctx.actor, tenant.id, {
        issuer: required(ctx, 'issuer'),
        clientId: required(ctx, 'client-id'),
        deploymentId: required(ctx, 'deployment-id'),
      });
      ctx.out.print(p, () => describe(p));
    },
  },
  'platform list': {
    usage: 'platform list [--tenant S] [--json]',
    options: { tenant: { type: 'string' } },
    needsDb: true,
    async run(ctx) {
      const slug = ctx.flags.tenant;
      const tenantId = typeof slug === 'string' ? (await getTenantBySlug(ctx.store, slug)).id : undefined;
      const platforms = await listPlatforms(ctx.store, tenantId);
      const rows = platforms.map((p) => ({
        ...p,
        deployments: p.deploymentIds.join(','),
        trustEmail: p.trustEmail ? 'yes' : 'no',
        jitCreate: p.jitCreate ? 'yes' : 'no',
      }));
      ctx.out.print(platforms, () =>
        table(rows as never, [
          'issuer',
          'clientId',
          'deployments',
          'identityClaim',
          'trustEmail',
          'jitCreate',
          'tenantId',
          'id',
        ]),
      );
    },
  },
  'platform register-link': {
    usage: 'platform register-link --tenant S [--json]',
    options: { tenant: { type: 'string' } },
    needsDb: true,
    async run(ctx) {
      const tenant = await getTenantBySlug(ctx.store, required(ctx, 'tenant'));
      const link = await createRegistrationLink(ctx.store, tenant.id, ctx.config.publicUrl);
      ctx.out.print({ url: link.url, expiresAt: link.expiresAt.toISOString() }, () =>
        [
          `One-time LTI dynamic registration link for ${tenant.slug} (expires ${link.expiresAt.toISOString()}):`,
          '',
          `  ${link.url}`,
          '',
          'Paste it into the platform\'s "register tool by URL" form.',
        ].join('\n'),
      );
    },
  },
  'keys reseal': {
    usage:
      'keys reseal [--json]   (seal every stored secret — tool keys, webhook and OneRoster secrets — under TOOL_KEY_SECRET, e.g. after setting or rotating it)',
    options: {},
    needsDb: true,
    async run(ctx) {
      if (!ctx.store.sealer.sealing) throw new UsageError('Set TOOL_KEY_SECRET first (openssl rand -base64 32)');
      const r = await resealStoredSecrets(ctx.store);
      ctx.out.print(
        { resealed: r.toolKeys + r.webhookSecrets + r.oneRosterSecrets, ...r },
        () =>
          `Sealed under the current TOOL_KEY_SECRET: ${r.toolKeys} tool key(s), ${r.webhookSecrets} webhook secret(s), ${r.oneRosterSecrets} OneRoster client secret(s)` +
          (r.unreadable
            ? `\n${r.unreadable} value(s) are sealed under a secret this server does not have: put it in TOOL_KEY_SECRET_PREVIOUS and run this again, or have the school enter them again`
            : ''),
      );
    },
  },
  'keys rotate': {
    usage: 'keys rotate [--grace 7d] [--json]',
    options: { grace: { type: 'string' } },
    needsDb: true,
    async run(ctx) {
      const grace = ctx.flags.grace;
      const graceMs = typeof grace === 'string' ? parseDuration(grace) : undefined;
      const r = await rotateKeys(ctx.store, graceMs);
      ctx.out.print(
        r,
        () =>
          `New signing key ${r.kid}; retiring ${r.retired.join(', ') || 'none'}; deleted ${r.deleted} expired key(s). Running servers pick it up within 30 s.`,
      );
    },
  },
};
