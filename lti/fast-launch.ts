import { QueryTypes } from 'sequelize';
import type { ActorContext, Store } from '../src/db/store.js';
import { sha256 } from './state.js';

/**
 * The common launch — someone already linked and active, returning to a course we know — in ONE
 * statement (so one round trip and one commit, atomically): burn state and nonce, stamp the
 * identity link, check the person may launch, upsert the membership with the launch's roles and
 * write its audit event if the roles changed. Anything else (first launch, unknown course, a
 * person who is not plainly active, anonymous) reports `handled: false` after burning state and
 * nonce, and the caller takes the general path (door 3 + course upsert) in a transaction, which
 * must not burn them again. Equivalence with the general path is tested in test/lti/identity.test.ts.
 */
export interface FastLaunchInput {
  state: string;
  issuer: string;
  nonce: string;
  nonceExpiresAt: Date;
  tenantId: string;
  platformId: string;
  sub: string | null;
  contextId: string | null;
  roles: string[];
}

export type FastLaunchResult =
  | { consumed: false; replayedNonce: boolean }
  | { consumed: true; handled: false }
  | { consumed: true; handled: true; personId: string; courseId: string };

export async function fastLaunch(store: Store, actor: ActorContext, i: FastLaunchInput): Promise<FastLaunchResult> {
  const [r] = await store.sequelize.query<{ s: number; n: number; person_id: string | null; course_id: string | null }>(
    `WITH s AS (
       UPDATE lti_states SET used_at = now() WHERE state_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING 1
     ), n AS (
       INSERT INTO lti_nonces (issuer, nonce, expires_at) SELECT $2, $3, $4 WHERE EXISTS (SELECT 1 FROM s)
       ON CONFLICT DO NOTHING RETURNING 1
     ), l AS (
       UPDATE identity_links SET last_launch_at = now()
       WHERE tenant_id = $5 AND platform_id = $6 AND sub = $7 AND EXISTS (SELECT 1 FROM n) RETURNING person_id
     ), p AS (
       SELECT id FROM people WHERE tenant_id = $5 AND id = (SELECT person_id FROM l)
         AND deleted_at IS NULL AND status = 'active' AND active AND first_launch_at IS NOT NULL
     ), c AS (
       SELECT id FROM courses WHERE tenant_id = $5 AND lti_platform_id = $6 AND lti_context_id = $8 AND deleted_at IS NULL AND EXISTS (SELECT 1 FROM p)
     ), old AS (
       SELECT m.roles, m.status FROM course_memberships m WHERE m.tenant_id = $5 AND m.course_id = (SELECT id FROM c) AND m.person_id = (SELECT id FROM p)
     ), up AS (
       INSERT INTO course_memberships (tenant_id, course_id, person_id, roles, status, source)
       SELECT $5, c.id, p.id, $9, 'active', 'lti' FROM c, p
       ON CONFLICT (tenant_id, course_id, person_id) DO UPDATE SET roles = EXCLUDED.roles, status = 'active', updated_at = now()
         WHERE course_memberships.roles IS DISTINCT FROM EXCLUDED.roles OR course_memberships.status <> 'active'
       RETURNING course_id, person_id
     ), audit AS (
       INSERT INTO audit_events (tenant_id, actor, action, target_type, target_id, before, after, request_id)
       SELECT $5, $10, CASE WHEN EXISTS (SELECT 1 FROM old) THEN 'course_membership.update' ELSE 'course_membership.create' END,
         'course_membership', up.course_id || ':' || up.person_id, (SELECT to_jsonb(old) FROM old),
         jsonb_build_object('roles', to_jsonb($9::text[]), 'status', 'active') || CASE WHEN EXISTS (SELECT 1 FROM old) THEN '{}'::jsonb ELSE '{"source":"lti"}'::jsonb END,
         $11
       FROM up RETURNING 1
     )
     SELECT (SELECT count(*) FROM s)::int AS s, (SELECT count(*) FROM n)::int AS n,
            (SELECT id FROM p) AS person_id, (SELECT id FROM c) AS course_id, (SELECT count(*) FROM audit)::int AS audited`,
    {
      bind: [
        sha256(i.state),
        i.issuer,
        i.nonce,
        i.nonceExpiresAt,
        i.tenantId,
        i.platformId,
        i.sub ?? '',
        i.contextId ?? '',
        i.roles,
        actor.actor,
        actor.requestId ?? null,
      ],
      type: QueryTypes.SELECT,
    },
  );
  if (r.s !== 1 || r.n !== 1) return { consumed: false, replayedNonce: r.s === 1 };
  if (i.sub === null || i.contextId === null || !r.person_id || !r.course_id) return { consumed: true, handled: false };
  return { consumed: true, handled: true, personId: r.person_id, courseId: r.course_id };
}
