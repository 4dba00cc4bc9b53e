import { select } from '../db/sql.js';
import type { Store } from '../db/store.js';
import { BURN_NONCE, nonceBind, type NonceRecord } from './lti-states.js';

/**
 * The returning person's launch in ONE statement (one round trip, committed atomically): burn the
 * login state (by recording its nonce, lti/state.ts), stamp the identity link, and tell whether the launch changes anything
 * else. It writes nothing but the state, the nonce and `last_launch_at` (none of which any
 * authorization decision reads), so an unchanged launch signals nothing. When a membership must be
 * written, or the person or course is not plainly known, the general path (launch.ts) does it.
 */
export interface ReturningLaunchInput extends NonceRecord {
  tenantId: string;
  platformId: string;
  sub: string;
  contextId: string;
  roles: string[];
}

export interface ReturningLaunch {
  /** false: the state's nonce was recorded before, i.e. the state was used (a replay). */
  stateBurnt: boolean;
  /** The linked person, when plainly active and launched before. */
  personId: string | null;
  /** The course of the launch's context, when known (and the person is). */
  courseId: string | null;
  /** Whether the person's membership there already has exactly the launch's roles, active. */
  membershipCurrent: boolean;
}

export async function returningLaunch(store: Store, i: ReturningLaunchInput): Promise<ReturningLaunch> {
  // The membership test is the negation of the general upsert's write condition
  // (launch-course.ts: roles IS DISTINCT FROM the launch's, or status <> 'active').
  const [r] = await select<{
    n: number;
    person_id: string | null;
    course_id: string | null;
    current: boolean;
  }>(
    store,
    `WITH ${BURN_NONCE}, l AS (
       UPDATE identity_links SET last_launch_at = now()
       WHERE tenant_id = $4 AND platform_id = $5 AND sub = $6 AND EXISTS (SELECT 1 FROM n) RETURNING person_id
     ), p AS (
       SELECT id FROM people WHERE tenant_id = $4 AND id = (SELECT person_id FROM l)
         AND deleted_at IS NULL AND status = 'active' AND active AND first_launch_at IS NOT NULL
     ), c AS (
       SELECT id FROM courses WHERE tenant_id = $4 AND lti_platform_id = $5 AND lti_context_id = $7 AND deleted_at IS NULL
         AND EXISTS (SELECT 1 FROM p)
     )
     SELECT (SELECT count(*) FROM n)::int AS n,
            (SELECT id FROM p) AS person_id, (SELECT id FROM c) AS course_id,
            EXISTS (SELECT 1 FROM course_memberships m WHERE m.tenant_id = $4 AND m.course_id = (SELECT id FROM c)
              AND m.person_id = (SELECT id FROM p) AND m.roles IS NOT DISTINCT FROM $8::text[] AND m.status = 'active') AS current`,
    [...nonceBind(i), i.tenantId, i.platformId, i.sub, i.contextId, i.roles],
  );
  return {
    stateBurnt: r.n === 1,
    personId: r.person_id,
    courseId: r.course_id,
    membershipCurrent: r.current,
  };
}
