import type { Logger } from 'pino';
import { listenWithReconnect, type Listener } from '../db/listen.js';
import type { Store } from '../db/store.js';
import { ConflictError, NotFoundError } from '../errors.js';
import { getCourse } from './courses.js';
import { findByRefs, getPersonById, parsePersonRef, refKey } from './person-reference.js';
import {
  assertKnownPrivileges,
  catalogue,
  decisionFor,
  effectiveOne,
  type Decision,
  type Effective,
} from './privileges/index.js';
import { onAuthzChange } from './change-signal.js';
import { UUID } from '../ids.js';

/**
 * The fast path behind POST /authorize. Decisions are computed by effectiveOne (one SQL round trip)
 * and cached in process per tenant: course+person → Effective, plus the tenant's catalogue and
 * resolved course/person references.
 *
 * Invalidation — a tenant's entries are dropped when:
 *  1. this process commits a write in that tenant: the domain signals the tenant after commit
 *     (changedOnCommit; recordAudit does it for every audited change, so SCIM, LTI and API writes
 *     all count). Only that tenant's entries go; other schools keep theirs. A change about one
 *     person (their record, emails, grants or memberships) names them, and drops only their
 *     decisions and the tenant's person references, so SCIM writes in a busy school do not empty
 *     its cache;
 *  2. on PostgreSQL, any process commits such a change: triggers NOTIFY 'rb_authz' with "tenant"
 *     or "tenant person" and a dedicated LISTEN connection drops the same. While that connection
 *     is down the cache is bypassed, never trusted;
 *  3. an entry is older than ttlMs (bounds staleness for writes no signal reaches: on embedded
 *     PGlite, a CLI process writing through the socket — PGlite delivers no notifications).
 * A generation counter per tenant (bumped by every signal, narrow or not) stops a read that raced a
 * write from caching the pre-write answer.
 */
interface Cached<T> {
  at: number;
  value: T;
}
interface TenantEntries {
  gen: number;
  /** person id → course id → decisions, so one person's change drops only their entries */
  decisions: Map<string, Map<string, Cached<Effective>>>;
  decisionCount: number;
  /** a person's id as the reference: only a change to that person can change its answer */
  personIdRefs: Map<string, Cached<string>>;
  /** email: and key: references: any person's change can change their answer (a shared email) */
  personKeyRefs: Map<string, Cached<string>>;
  courseRefs: Map<string, Cached<string>>;
  catalogue: Cached<string[]> | null;
}
const emptyEntries = (gen: number): TenantEntries => ({
  gen,
  decisions: new Map(),
  decisionCount: 0,
  personIdRefs: new Map(),
  personKeyRefs: new Map(),
  courseRefs: new Map(),
  catalogue: null,
});

export interface AuthzCacheOptions {
  ttlMs: number;
  maxEntriesPerTenant?: number;
  /** PostgreSQL URL for LISTEN; absent on PGlite. */
  databaseUrl?: string;
  logger?: Logger;
}

export class AuthorizationCache {
  private tenants = new Map<string, TenantEntries>();
  private globalGen = 0;
  private listener: Listener | null = null;
  private stopped = false;
  private unsubscribe: (() => void) | null = null;
  readonly stats = { hits: 0, misses: 0, invalidations: 0 };

  constructor(
    private readonly store: Store,
    private readonly options: AuthzCacheOptions,
  ) {}

  /** Hooks the signals up; with a databaseUrl also opens the LISTEN connection. */
  async start(): Promise<void> {
    if (!this.store.sequelize) return;
    this.unsubscribe = onAuthzChange((tenantId, personId) => this.invalidate(tenantId, personId));
    if (!this.options.databaseUrl) return;
    this.listener = listenWithReconnect({
      url: this.options.databaseUrl,
      channel: 'rb_authz',
      name: 'authorization cache',
      meanwhile: 'cache bypassed',
      logger: this.options.logger,
      onReset: () => this.invalidate(null),
      onNotify: (payload) => {
        const [tenantId, personId] = payload.split(' ');
        this.invalidate(tenantId || null, personId || undefined);
      },
    });
    await this.listener.started;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    await this.listener?.stop();
  }

  /** On PostgreSQL the cache is only trusted while LISTEN is up. */
  get enabled(): boolean {
    return !this.stopped && (!this.options.databaseUrl || this.listener?.up === true);
  }

  /** Drops a tenant's entries (all tenants for null), or with a personId only that person's. */
  invalidate(tenantId: string | null, personId?: string): void {
    this.stats.invalidations++;
    if (tenantId === null) {
      this.globalGen++;
      this.tenants.clear();
      return;
    }
    const e = this.tenants.get(tenantId);
    if (personId !== undefined && e) {
      e.gen++;
      e.decisionCount -= e.decisions.get(personId)?.size ?? 0;
      e.decisions.delete(personId);
      e.personIdRefs.delete(personId);
      e.personKeyRefs.clear();
      return;
    }
    if (personId !== undefined) return; // nothing cached for this tenant
    this.tenants.set(tenantId, emptyEntries((e?.gen ?? 0) + 1));
  }

  private entries(tenantId: string): TenantEntries {
    let e = this.tenants.get(tenantId);
    if (!e) this.tenants.set(tenantId, (e = emptyEntries(0)));
    return e;
  }

  /** Runs load(); stores the value only if no invalidation happened meanwhile. */
  private async through<T>(
    tenantId: string,
    get: (e: TenantEntries) => { at: number; value: T } | null | undefined,
    put: (e: TenantEntries, v: { at: number; value: T }) => void,
    load: () => Promise<T>,
  ): Promise<T> {
    const now = Date.now();
    if (this.enabled) {
      const hit = get(this.entries(tenantId));
      if (hit && now - hit.at < this.options.ttlMs) {
        this.stats.hits++;
        return hit.value;
      }
    }
    this.stats.misses++;
    const e0 = this.entries(tenantId);
    const gen = e0.gen;
    const global = this.globalGen;
    const value = await load();
    const e1 = this.tenants.get(tenantId);
    if (this.enabled && e1 === e0 && e1.gen === gen && this.globalGen === global) {
      put(e1, { at: now, value });
      if (e1.decisionCount > (this.options.maxEntriesPerTenant ?? 50_000)) {
        e1.decisions.clear();
        e1.decisionCount = 0;
      }
    }
    return value;
  }

  effective(tenantId: string, courseId: string, personId: string): Promise<Effective> {
    return this.through(
      tenantId,
      (e) => e.decisions.get(personId)?.get(courseId),
      (e, v) => {
        let courses = e.decisions.get(personId);
        if (!courses) e.decisions.set(personId, (courses = new Map()));
        if (!courses.has(courseId)) e.decisionCount++;
        courses.set(courseId, v);
      },
      () => effectiveOne(this.store, tenantId, courseId, personId),
    );
  }

  catalogue(tenantId: string): Promise<string[]> {
    return this.through(
      tenantId,
      (e) => e.catalogue,
      (e, v) => (e.catalogue = v),
      async () => (await catalogue(this.store, tenantId)).map((r) => r.key),
    );
  }

  /** Course id for an id or `key:` ref; throws 404 (not cached) when there is none. */
  courseId(tenantId: string, ref: string): Promise<string> {
    return this.through(
      tenantId,
      (e) => e.courseRefs.get(ref),
      (e, v) => e.courseRefs.set(ref, v),
      async () => (await getCourse(this.store, tenantId, ref)).id,
    );
  }

  /** Person id for a personRef, without creating anyone: 404 for nobody, 409 for several. */
  personId(tenantId: string, raw: string): Promise<string> {
    const refs = (e: TenantEntries) => (UUID.test(raw) ? e.personIdRefs : e.personKeyRefs);
    return this.through(
      tenantId,
      (e) => refs(e).get(raw),
      (e, v) => refs(e).set(raw, v),
      async () => {
        const ref = parsePersonRef(raw);
        if (ref.kind === 'id') return (await getPersonById(this.store, tenantId, ref.id)).id;
        const found =
          (
            await findByRefs(
              this.store,
              tenantId,
              ref.kind === 'email' ? [ref.email] : [],
              ref.kind === 'key' ? [ref.key] : [],
            )
          ).get(refKey(ref)) ?? [];
        if (found.length === 1) return found[0].id;
        if (found.length === 0) throw new NotFoundError(`Nobody in this tenant matches ${raw}`);
        throw new ConflictError(`${raw} matches ${found.length} people; use a person id`, { candidates: found });
      },
    );
  }
}

export interface AuthorizeResult extends Decision {
  course: string;
  person: string;
}

/** POST /authorize: may this person use this privilege in this course, and why. */
export async function authorize(
  store: Store,
  cache: AuthorizationCache,
  tenantId: string,
  req: { course: string; person: string; privilege: string },
): Promise<AuthorizeResult> {
  const known = await cache.catalogue(tenantId);
  if (!known.includes(req.privilege)) await assertKnownPrivileges(store, tenantId, [req.privilege]);
  const [courseId, personId] = await Promise.all([
    cache.courseId(tenantId, req.course),
    cache.personId(tenantId, req.person),
  ]);
  const d = decisionFor(await cache.effective(tenantId, courseId, personId), req.privilege);
  return { course: courseId, person: personId, privilege: d.privilege, allowed: d.allowed, why: d.why };
}
