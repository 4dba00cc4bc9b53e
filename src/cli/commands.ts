import { createReadStream } from 'node:fs';
import { userInfo } from 'node:os';
import type { Config } from '../config.js';
import { migrate } from '../db/migrator.js';
import type { ActorContext, Store } from '../db/store.js';
import { seedDemo, type DemoSeed } from '../domain/dev-seed.js';
import {
  addTenantAdmin,
  listTenantAdmins,
  removeTenantAdmin,
  transferTenantOwnership,
} from '../domain/tenant-admins.js';
import { exportTenant, importTenant } from '../domain/tenant-export.js';
import { restoreTenant, wipeTenant } from '../domain/tenant-lifecycle.js';
import { createTenant, deleteTenant, getTenantBySlug, listTenants, updateTenant } from '../domain/tenants.js';
import { createToken, listTokens, parseDuration, revokeToken, TOKEN_KINDS } from '../domain/tokens.js';
import type { TokenKind } from '../db/models.js';
import { table, UsageError, type Out } from './io.js';
import { ltiCommands } from './commands-lti.js';
import { privilegeCommands } from './commands-privileges.js';
import { webhookCommands } from './commands-webhooks.js';
import { rosterCommands } from './commands-roster.js';
import { oneRosterCommands } from './commands-oneroster.js';

export interface CommandContext {
  config: Config;
  store: Store;
  out: Out;
  actor: ActorContext;
  flags: Record<string, string | boolean | undefined>;
  positionals: string[];
}

export interface Command {
  usage: string;
  /** Flags this command accepts with their types (parseArgs style). */
  options: Record<string, { type: 'string' | 'boolean' }>;
  /** Whether it needs the database (serve manages its own). */
  needsDb: boolean;
  run(ctx: CommandContext): Promise<void>;
}

export const cliActor = (): ActorContext => {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    /* containers without a passwd entry */
  }
  return { actor: `cli:${user}` };
};

function required(ctx: CommandContext, name: string): string {
  const v = ctx.flags[name];
  if (typeof v !== 'string' || v.trim() === '') throw new UsageError(`--${name} is required`);
  return v;
}

function optionalInt(ctx: CommandContext, name: string): number | undefined {
  const v = ctx.flags[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^\d+$/.test(v)) throw new UsageError(`--${name} must be a whole number`);
  return Number(v);
}

function seedSummary(seed: DemoSeed, publicUrl: string): string {
  const c = seed.counts;
  const first = seed.courses[0];
  return [
    `Created the demo school "${seed.tenant.name}" (tenant ${seed.tenant.slug}, owned by ${seed.owner}):`,
    `  ${c.people} people (${c.provisioned} from the IdP, ${c.waiting} waiting for their first sign-in), ${c.groups} groups,`,
    `  ${c.courses} courses with memberships, and ${c.grants} privileges granted ahead of sign-in.`,
    '',
    'Tokens (shown once; keep them):',
    `  admin API  ${seed.adminToken}`,
    `  SCIM       ${seed.scimToken}`,
    '',
    'Registered LMS (the stand-in one):',
    `  issuer ${seed.platform.issuer}`,
    `  client id ${seed.platform.clientId}, deployment id ${seed.platform.deploymentId}`,
    `  tool login ${publicUrl}/lti/login, launch ${publicUrl}/lti/launch, keys ${publicUrl}/lti/jwks`,
    '',
    'What to open next (start the server with DEMO_LMS=true npm start):',
    `  ${publicUrl}/dev/lms?tenant=${seed.tenant.slug}   launch as ${first.instructor.name} (instructor of ${first.course.title})`,
    `  ${publicUrl}/docs   the API; try: curl -H "Authorization: Bearer <admin token>" ${publicUrl}/api/v1/courses`,
    `  ${publicUrl}/scim/v2/Users   SCIM, with the SCIM token`,
  ].join('\n');
}

const rowCounts = (rows: Record<string, number>) =>
  table(
    Object.entries(rows).map(([name, n]) => ({ table: name, rows: n })),
    ['table', 'rows'],
  );

export const commands: Record<string, Command> = {
  'tenant create': {
    usage: 'tenant create --slug S --name N [--seat-limit N] [--json]',
    options: { slug: { type: 'string' }, name: { type: 'string' }, 'seat-limit': { type: 'string' } },
    needsDb: true,
    async run(ctx) {
      const tenant = await createTenant(ctx.store, ctx.actor, {
        slug: required(ctx, 'slug'),
        name: required(ctx, 'name'),
        seatLimit: optionalInt(ctx, 'seat-limit') ?? null,
      });
      ctx.out.print(tenant, () => `Created tenant ${tenant.slug} (${tenant.name}), id ${tenant.id}`);
    },
  },
  'tenant list': {
    usage: 'tenant list [--json]',
    options: {},
    needsDb: true,
    async run(ctx) {
      const tenants = await listTenants(ctx.store);
      ctx.out.print(tenants, () => table(tenants as never, ['slug', 'name', 'status', 'seatLimit', 'id']));
    },
  },
  'tenant update': {
    usage: 'tenant update --slug S [--name N] [--seat-limit N|none] [--status active|suspended] [--json]',
    options: {
      slug: { type: 'string' },
      name: { type: 'string' },
      'seat-limit': { type: 'string' },
      status: { type: 'string' },
    },
    needsDb: true,
    async run(ctx) {
      const status = ctx.flags.status;
      if (status !== undefined && status !== 'active' && status !== 'suspended')
        throw new UsageError('--status must be active or suspended');
      const seat = ctx.flags['seat-limit'];
      const tenant = await updateTenant(ctx.store, ctx.actor, required(ctx, 'slug'), {
        ...(typeof ctx.flags.name === 'string' ? { name: ctx.flags.name } : {}),
        ...(seat === 'none'
          ? { seatLimit: null }
          : seat !== undefined
            ? { seatLimit: optionalInt(ctx, 'seat-limit') }
            : {}),
        ...(status ? { status } : {}),
      });
      ctx.out.print(
        tenant,
        () =>
          `Updated tenant ${tenant.slug}: ${tenant.name}, ${tenant.status}, seat limit ${tenant.seatLimit ?? 'none'}`,
      );
    },
  },
  'tenant delete': {
    usage: 'tenant delete --slug S [--json]   (soft: data kept, tokens stop working, slug freed)',
    options: { slug: { type: 'string' } },
    needsDb: true,
    async run(ctx) {
      const tenant = await deleteTenant(ctx.store, ctx.actor, required(ctx, 'slug'));
      ctx.out.print(tenant, () => `Deleted tenant ${tenant.slug} (data kept; its tokens no longer work)`);
    },
  },
  'tenant restore': {
    usage: 'tenant restore --tenant S [--json]   (S: the slug it had, or its id; a taken slug gets "-restored")',
    options: { tenant: { type: 'string' } },
    needsDb: true,
    async run(ctx) {
      const tenant = await restoreTenant(ctx.store, ctx.actor, required(ctx, 'tenant'));
      ctx.out.print(tenant, () => `Restored tenant ${tenant.slug} (${tenant.name}); its tokens work again`);
    },
  },
  'tenant export': {
    usage: 'tenant export --tenant S > school.json   (every row the tenant owns, as one JSON document)',
    options: { tenant: { type: 'string' } },
    needsDb: true,
    async run(ctx) {
      await ctx.out.stream(exportTenant(ctx.store, required(ctx, 'tenant')));
    },
  },
  'tenant import': {
    usage: 'tenant import <file.json|-> [--slug S] [--json]   (into this database; the tenant must not exist here)',
    options: { slug: { type: 'string' } },
    needsDb: true,
    async run(ctx) {
      const file = ctx.positionals[0];
      if (!file) throw new UsageError('name the export file (or - for stdin)');
      const input = file === '-' ? process.stdin : createReadStream(file);
      const slug = typeof ctx.flags.slug === 'string' ? ctx.flags.slug : undefined;
      const result = await importTenant(ctx.store, ctx.actor, input, { slug });
      ctx.out.print(result, () =>
        [`Imported tenant ${result.tenant.slug} (${result.tenant.name})`, rowCounts(result.rows)].join('\n'),
      );
    },
  },
  'tenant wipe': {
    usage: 'tenant wipe --tenant S --confirm S [--json]   (erases every row of the tenant; cannot be undone)',
    options: { tenant: { type: 'string' }, confirm: { type: 'string' } },
    needsDb: true,
    async run(ctx) {
      const result = await wipeTenant(ctx.store, ctx.actor, required(ctx, 'tenant'), required(ctx, 'confirm'));
      ctx.out.print(result, () => [`Wiped tenant ${result.tenant.slug} out`, rowCounts(result.rows)].join('\n'));
    },
  },
  'tenant admins': {
    usage: 'tenant admins --tenant S [--json]   (owner and admins)',
    options: { tenant: { type: 'string' } },
    needsDb: true,
    async run(ctx) {
      const tenant = await getTenantBySlug(ctx.store, required(ctx, 'tenant'));
      const admins = await listTenantAdmins(ctx.store, tenant.id);
      ctx.out.print(admins, () =>
        table(
          admins.map((a) => ({ ...a })),
          ['role', 'name', 'kind', 'id'],
        ),
      );
    },
  },
  'tenant admin': {
    usage:
      'tenant admin add|remove --tenant S <person id | email:A | key:K | operator:NAME | admin id> [--owner] [--json]',
    options: { tenant: { type: 'string' }, owner: { type: 'boolean' } },
    needsDb: true,
    async run(ctx) {
      const [verb, ref] = ctx.positionals;
      if ((verb !== 'add' && verb !== 'remove') || !ref) throw new UsageError('say add or remove, then whom');
      const tenant = await getTenantBySlug(ctx.store, required(ctx, 'tenant'));
      if (verb === 'add') {
        const added = await addTenantAdmin(ctx.store, ctx.actor, tenant.id, ref, ctx.flags.owner ? 'owner' : 'admin');
        ctx.out.print(
          added,
          () => `${added.name} is now ${added.role === 'owner' ? 'the owner' : 'an admin'} of ${tenant.slug}`,
        );
      } else {
        const removed = await removeTenantAdmin(ctx.store, ctx.actor, tenant.id, ref);
        ctx.out.print(removed, () => `${removed.name} is no longer an admin of ${tenant.slug}`);
      }
    },
  },
  'tenant owner': {
    usage: 'tenant owner transfer --tenant S --to <person id | email:A | key:K | operator:NAME> [--json]',
    options: { tenant: { type: 'string' }, to: { type: 'string' } },
    needsDb: true,
    async run(ctx) {
      if (ctx.positionals[0] !== 'transfer') throw new UsageError('tenant owner transfer --tenant S --to WHO');
      const tenant = await getTenantBySlug(ctx.store, required(ctx, 'tenant'));
      const result = await transferTenantOwnership(ctx.store, ctx.actor, tenant.id, required(ctx, 'to'));
      ctx.out.print(result, () =>
        [
          `${result.owner.name} now owns ${tenant.slug}`,
          result.previous ? `${result.previous.name} stays an admin` : '',
        ]
          .filter(Boolean)
          .join('; '),
      );
    },
  },
  'dev seed': {
    usage: 'dev seed [--slug demo] [--json]   (a demo school: people, groups, courses, grants, tokens, a stand-in LMS)',
    options: { slug: { type: 'string' } },
    needsDb: true,
    async run(ctx) {
      const slug = typeof ctx.flags.slug === 'string' ? ctx.flags.slug : 'demo';
      const seed = await seedDemo(ctx.store, ctx.actor, { slug, publicUrl: ctx.config.publicUrl });
      ctx.out.print(seed, () => seedSummary(seed, ctx.config.publicUrl));
    },
  },
  'token create': {
    usage: 'token create --tenant S --kind scim|admin [--name X] [--expires-in 90d] [--json]',
    options: {
      tenant: { type: 'string' },
      kind: { type: 'string' },
      name: { type: 'string' },
      'expires-in': { type: 'string' },
    },
    needsDb: true,
    async run(ctx) {
      const kind = required(ctx, 'kind');
      if (!TOKEN_KINDS.includes(kind as TokenKind))
        throw new UsageError(`--kind must be one of ${TOKEN_KINDS.join(', ')}`);
      const expiresIn = ctx.flags['expires-in'];
      let expiresAt: Date | null = null;
      if (expiresIn !== undefined) {
        if (typeof expiresIn !== 'string') throw new UsageError('--expires-in needs a value such as 90d');
        expiresAt = new Date(Date.now() + parseDuration(expiresIn));
      }
      const tenant = await getTenantBySlug(ctx.store, required(ctx, 'tenant'));
      const { token, view } = await createToken(ctx.store, ctx.actor, {
        tenantId: tenant.id,
        kind: kind as TokenKind,
        name: typeof ctx.flags.name === 'string' ? ctx.flags.name : undefined,
        expiresAt,
      });
      ctx.out.print({ ...view, token }, () =>
        [
          `Created ${view.kind} token "${view.name}" for ${tenant.slug}${view.expiresAt ? `, expires ${view.expiresAt}` : ''}.`,
          'Copy it now; it is not shown again:',
          '',
          `  ${token}`,
        ].join('\n'),
      );
    },
  },
  'token list': {
    usage: 'token list [--tenant S] [--json]',
    options: { tenant: { type: 'string' } },
    needsDb: true,
    async run(ctx) {
      const slug = ctx.flags.tenant;
      const tenantId = typeof slug === 'string' ? (await getTenantBySlug(ctx.store, slug)).id : undefined;
      const tokens = await listTokens(ctx.store, tenantId);
      ctx.out.print(tokens, () =>
        table(tokens as never, ['id', 'prefix', 'kind', 'name', 'expiresAt', 'revokedAt', 'lastUsedAt']),
      );
    },
  },
  'token revoke': {
    usage: 'token revoke --tenant S <token-id|prefix> [--json]',
    options: { tenant: { type: 'string' } },
    needsDb: true,
    async run(ctx) {
      const ref = ctx.positionals[0];
      if (!ref) throw new UsageError('token revoke needs the token id or prefix');
      const tenant = await getTenantBySlug(ctx.store, required(ctx, 'tenant'));
      const view = await revokeToken(ctx.store, ctx.actor, tenant.id, ref);
      ctx.out.print(view, () => `Revoked token ${view.prefix}… (${view.name}) at ${view.revokedAt}`);
    },
  },
  migrate: {
    usage: 'migrate [--json]',
    options: {},
    needsDb: true,
    async run(ctx) {
      const applied = await migrate(ctx.store.sequelize);
      ctx.out.print({ applied }, () => (applied.length ? `Applied ${applied.join(', ')}` : 'Database is up to date'));
    },
  },
  ...ltiCommands,
  ...privilegeCommands,
  ...webhookCommands,
  ...rosterCommands,
  ...oneRosterCommands,
};
