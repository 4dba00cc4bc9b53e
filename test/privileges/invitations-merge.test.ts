import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueSession } from '../../lti/session.js';
import { inTransaction } from '../../src/db/store.js';
import { acceptInvitation, queueInvitations } from '../../src/domain/invitations.js';
import { mergeInTransaction } from '../../src/domain/merge.js';
import { Outbox } from '../../src/domain/outbox.js';
import { insertPerson } from '../../src/domain/people.js';
import { seedTenant } from '../support/server.js';
import { apiClient, enc, privilegesHarness } from './helpers.js';
import { sqlOn } from './helpers.js';

/**
 * Invitations (outbox mail, expiry, single use, resend), merging a placeholder into the real
 * person (grants move, deny wins, memberships move, audited), people search and the audit filters.
 */
let h: Awaited<ReturnType<typeof privilegesHarness>>;
let courseId: string;
const sql = <T = any>(q: string, bind: unknown[] = []) => sqlOn(h.server.store)<T>(q, bind);
const live = (userName: string, email: string, extra: Record<string, string> = {}) =>
  inTransaction(h.server.store, (t) =>
    insertPerson(
      h.server.store,
      t,
      { actor: 'test' },
      { tenantId: h.tenant.id, status: 'active', source: 'scim', userName, primaryEmail: email, ...extra },
    ),
  );

beforeAll(async () => {
  h = await privilegesHarness();
  courseId = (await h.api.post('/courses', { title: 'History', externalKey: 'HIS-1' })).body.id;
});
afterAll(() => h?.close());

describe('invitations', () => {
  it('queue a mail in the outbox that is logged and kept when there is no SMTP_URL', async () => {
    const r = await h.api.put(`/courses/${courseId}/privileges/${enc('email:grace@school.example')}`, {
      allow: ['course.view'],
    });
    expect(r.status).toBe(201);
    const logged: unknown[] = [];
    const outbox = new Outbox(h.server.store, {
      from: 'test@example',
      logger: { info: (o: unknown) => logged.push(o), warn: () => {} } as never,
    });
    await outbox.drain();
    const mail = await sql<{ recipient: string; status: string; body: string }>(
      `SELECT recipient, status, body FROM outbox WHERE recipient = 'grace@school.example'`,
    );
    expect(mail).toHaveLength(1);
    expect(mail[0].status).toBe('logged');
    expect(mail[0].body).toMatch(/\/app\/welcome\?invitation=rbi_/);
    const inv = await h.api.get(`/invitations?person=${r.body.person.id}`);
    expect(inv.body.items).toEqual([
      expect.objectContaining({ status: 'pending', email: 'grace@school.example', sentCount: 1, courseId }),
    ]);
  });

  it('are single use, expire, and a resend replaces the link', async () => {
    const p = (
      await h.api.put(`/courses/${courseId}/privileges/${enc('email:hopper@school.example')}`, {
        allow: ['course.view'],
      })
    ).body.person;
    const resent = await h.api.post(`/people/${p.id}/invitation`);
    expect(resent.status).toBe(202);
    expect(resent.body.sentCount).toBe(2);
    expect((await sql(`SELECT 1 FROM outbox WHERE recipient = 'hopper@school.example'`)).length).toBe(2);
    // none open (revoked): a resend opens a new one beside it
    await sql(`UPDATE invitations SET status = 'revoked' WHERE person_id = $1 RETURNING 1`, [p.id]);
    const reopened = await h.api.post(`/people/${p.id}/invitation`);
    expect(reopened.status).toBe(202);
    expect(reopened.body).toMatchObject({ status: 'pending', sentCount: 1, personId: p.id, courseId: null });
    expect(reopened.body.id).not.toBe(resent.body.id);
    expect((await h.api.get(`/invitations?person=${p.id}`)).body.items.map((i: any) => i.status).sort()).toEqual([
      'pending',
      'revoked',
    ]);
    // only invited placeholders get one; nobody is nobody
    const member = await live('hopper.real', 'hopper.real@school.example');
    expect((await h.api.post(`/people/${member.id}/invitation`)).status).toBe(409);
    expect((await h.api.post('/people/00000000-0000-4000-8000-000000000000/invitation')).status).toBe(404);

    // A token we know: queue one directly for a fresh placeholder, then redeem it.
    const ctx = { actor: 'test' };
    const store = h.server.store;
    const placeholder = (
      await h.api.put(`/courses/${courseId}/privileges/${enc('email:lin@school.example')}`, { allow: ['grades.view'] })
    ).body.person;
    await sql(`UPDATE invitations SET status = 'revoked' WHERE person_id = $1 RETURNING 1`, [placeholder.id]);
    const tokens: string[] = [];
    await inTransaction(store, (t) =>
      queueInvitations(
        store,
        t,
        ctx,
        h.tenant.id,
        [{ personId: placeholder.id, email: 'lin@school.example', courseId }],
        { publicUrl: 'http://x', ttlMs: 60_000 },
      ),
    );
    const [mail] = await sql<{ body: string }>(
      `SELECT body FROM outbox WHERE recipient = 'lin@school.example' ORDER BY id DESC LIMIT 1`,
    );
    tokens.push(/invitation=([\w-]+)/.exec(mail.body)![1]);

    const real = await live('lin.real', 'lin.other@school.example');
    const merge = (t: any, tenantId: string, from: string, into: string) =>
      mergeInTransaction(store, t, ctx, tenantId, from, into).then(() => undefined);
    const accepted = await acceptInvitation(store, ctx, tokens[0], { tenantId: h.tenant.id, personId: real.id }, merge);
    expect(accepted.personId).toBe(real.id);
    // the mailbox proved who they are: the placeholder is merged into the signed-in person
    expect((await h.api.get(`/people/${placeholder.id}`)).body.id).toBe(real.id);
    await expect(
      acceptInvitation(store, ctx, tokens[0], { tenantId: h.tenant.id, personId: real.id }, merge),
    ).rejects.toThrow(/already been used/);

    // expiry
    const late = (
      await h.api.put(`/courses/${courseId}/privileges/${enc('email:late@school.example')}`, { allow: ['course.view'] })
    ).body.person;
    await sql(`UPDATE invitations SET status = 'revoked' WHERE person_id = $1 RETURNING 1`, [late.id]);
    await inTransaction(store, (t) =>
      queueInvitations(store, t, ctx, h.tenant.id, [{ personId: late.id, email: 'late@school.example', courseId }], {
        publicUrl: 'http://x',
        ttlMs: 1,
      }),
    );
    const [lateMail] = await sql<{ body: string }>(
      `SELECT body FROM outbox WHERE recipient = 'late@school.example' ORDER BY id DESC LIMIT 1`,
    );
    await new Promise((r) => setTimeout(r, 20));
    await expect(
      acceptInvitation(
        store,
        ctx,
        /invitation=([\w-]+)/.exec(lateMail.body)![1],
        { tenantId: h.tenant.id, personId: null },
        merge,
      ),
    ).rejects.toThrow(/expired/);
    expect((await h.api.get(`/invitations?person=${late.id}`)).body.items.map((i: any) => i.status).sort()).toEqual([
      'expired',
      'revoked',
    ]);
  });

  it('are accepted over HTTP by a signed-in session', async () => {
    const placeholder = (
      await h.api.put(`/courses/${courseId}/privileges/${enc('email:ken@school.example')}`, { allow: ['grades.view'] })
    ).body.person;
    await sql(`UPDATE invitations SET status = 'revoked' WHERE person_id = $1 RETURNING 1`, [placeholder.id]);
    await inTransaction(h.server.store, (t) =>
      queueInvitations(
        h.server.store,
        t,
        { actor: 'test' },
        h.tenant.id,
        [{ personId: placeholder.id, email: 'ken@school.example', courseId }],
        { publicUrl: 'http://x', ttlMs: 60_000 },
      ),
    );
    const [mail] = await sql<{ body: string }>(
      `SELECT body FROM outbox WHERE recipient = 'ken@school.example' ORDER BY id DESC LIMIT 1`,
    );
    const real = await live('ken.real', 'ken.t@school.example');
    const { token } = await issueSession(h.server.store, h.server.config.publicUrl, {
      tenantId: h.tenant.id,
      personId: real.id,
      courseId,
      roles: [],
    });
    const invitationToken = /invitation=([\w-]+)/.exec(mail.body)![1];
    const stranger = await seedTenant(h.server.store);
    expect(
      (await apiClient(h.server, stranger.adminToken).post('/invitations/accept', { token: invitationToken })).status,
    ).toBe(404);
    const r = await apiClient(h.server, token).post('/invitations/accept', { token: invitationToken });
    expect(r.status).toBe(200);
    expect(
      (await h.api.post('/authorize', { course: courseId, person: real.id, privilege: 'grades.view' })).body.allowed,
    ).toBe(true);
  });
});

describe('merge', () => {
  it('moves grants (deny wins on a clash) and memberships, marks the placeholder merged, and audits it', async () => {
    const placeholder = (
      await h.api.put(`/courses/${courseId}/privileges/${enc('key:S-4242')}`, {
        allow: ['grades.view', 'content.edit'],
        deny: ['members.view'],
      })
    ).body.person;
    await h.api.put(`/courses/${courseId}/memberships/${placeholder.id}`, { roles: ['Learner'] });
    const real = await live('marie', 'marie@school.example');
    await h.api.put(`/courses/${courseId}/privileges/${real.id}`, {
      allow: ['members.view', 'course.view'],
      deny: ['content.edit'],
    });
    await h.api.put(`/courses/${courseId}/memberships/${real.id}`, { roles: ['Mentor'] });

    const r = await h.api.post(`/people/${placeholder.id}/merge`, { into: real.id });
    expect(r.status).toBe(200);
    const e = (await h.api.get(`/courses/${courseId}/privileges/${real.id}`)).body;
    expect(e.allow).toEqual(['course.view', 'grades.view']);
    expect(e.deny).toEqual(['content.edit', 'members.view']);
    const m = (await h.api.get(`/courses/${courseId}/memberships`)).body.items.find((x: any) => x.personId === real.id);
    expect(m.roles).toEqual(['Learner', 'Mentor']);
    const p = await sql<{ status: string; merged_into: string }>(
      `SELECT status, merged_into FROM people WHERE id = $1`,
      [placeholder.id],
    );
    expect(p[0]).toEqual({ status: 'merged', merged_into: real.id });
    expect(
      await sql(
        `SELECT 1 FROM privilege_grants WHERE person_id = $1 UNION ALL SELECT 1 FROM course_memberships WHERE person_id = $1`,
        [placeholder.id],
      ),
    ).toHaveLength(0);
    const audit = (await h.api.get(`/audit?person=${placeholder.id}&action=person.merge`)).body.items;
    expect(audit).toHaveLength(1);
    expect(audit[0].after).toMatchObject({ status: 'merged', mergedInto: real.id });
    // only placeholders merge; only tenant admins merge
    expect((await h.api.post(`/people/${real.id}/merge`, { into: placeholder.id })).status).toBe(409);
  });
});

describe('people search and audit filters', () => {
  it('finds people by name, email, userName and externalId, page by page', async () => {
    await live('zz.search1', 'alpha.search@school.example', {
      givenName: 'Zora',
      familyName: 'Quill',
      externalId: 'EXT-SEARCH-1',
    });
    await live('zz.search2', 'beta.search@school.example', { displayName: 'Zora Quinn' });
    expect((await h.api.get('/people?q=zora')).body.items).toHaveLength(2);
    expect((await h.api.get('/people?q=ext-search-1')).body.items.map((p: any) => p.userName)).toEqual(['zz.search1']);
    expect((await h.api.get('/people?q=BETA.SEARCH')).body.items.map((p: any) => p.userName)).toEqual(['zz.search2']);
    const page1 = (await h.api.get('/people?q=zz.search&limit=1')).body;
    expect(page1.items).toHaveLength(1);
    const page2 = (await h.api.get(`/people?q=zz.search&limit=1&after=${page1.next}`)).body;
    expect(page2.items).toHaveLength(1);
    expect(page2.items[0].id).not.toBe(page1.items[0].id);
    expect((await h.api.get('/people?q=%25')).body.items).toHaveLength(0); // LIKE wildcards are literal
  });

  it('filters the audit trail by course, person, actor and time', async () => {
    const since = new Date().toISOString();
    const p = await live('audited', 'audited@school.example');
    await h.api.put(`/courses/${courseId}/privileges/${p.id}`, { allow: ['grades.view'] });
    const byCourse = (await h.api.get(`/audit?course=${courseId}&since=${enc(since)}`)).body.items;
    expect(byCourse.map((e: any) => e.action)).toEqual(['privileges.set']);
    expect(byCourse[0]).toMatchObject({
      before: { allow: [], deny: [] },
      after: { allow: ['grades.view'], deny: [], personId: p.id },
    });
    expect((await h.api.get(`/audit?person=${p.id}`)).body.items.map((e: any) => e.action)).toEqual([
      'privileges.set',
      'person.create',
    ]);
    expect((await h.api.get(`/audit?actor=nobody&course=${courseId}`)).body.items).toEqual([]);
    expect((await h.api.get(`/audit?until=${enc(since)}&person=${p.id}`)).body.items).toEqual([]);
    expect((await h.api.get('/audit?since=yesterday')).status).toBe(400);
  });

  it('pages the audit trail newest first by the id cursor, without gaps or repeats', async () => {
    const p = await live('paged', 'paged@school.example');
    for (const allow of [['course.view'], ['grades.view'], ['members.view']])
      await h.api.put(`/courses/${courseId}/privileges/${p.id}`, { allow });
    const all = (await h.api.get(`/audit?person=${p.id}`)).body;
    expect(all.items).toHaveLength(4);
    expect(all.next).toBeNull();
    const seen: number[] = [];
    let page = (await h.api.get(`/audit?person=${p.id}&limit=3`)).body;
    seen.push(...page.items.map((e: any) => e.id));
    expect(page.next).toBe(seen[2]);
    page = (await h.api.get(`/audit?person=${p.id}&limit=3&before=${page.next}`)).body;
    seen.push(...page.items.map((e: any) => e.id));
    expect(page.next).toBeNull();
    expect(seen).toEqual(all.items.map((e: any) => e.id));
    expect([...seen].sort((a, b) => b - a)).toEqual(seen);
  });
});
