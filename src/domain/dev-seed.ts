import { inTransaction, type ActorContext, type Store } from '../db/store.js';
import { createCourse, type CourseView } from './courses.js';
import { createGroup } from './groups.js';
import { setMembership } from './memberships.js';
import { addPlatform } from './platforms.js';
import type { Principal } from './privileges/index.js';
import { setPersonPrivileges } from './privileges/use-cases.js';
import { provisionPerson } from './provisioning.js';
import { addTenantAdmin } from './tenant-admins.js';
import { wipeTenant } from './tenant-lifecycle.js';
import { createTenant, type TenantView } from './tenants.js';
import { createToken } from './tokens.js';

/**
 * `rosterbridge dev seed`: a demo school a newcomer can open at once, without wiring an IdP or an
 * LMS. Everything goes through the same domain functions the three doors use (so audit, seats and
 * change signals hold), with made-up people at example.edu. Names are fixed, not random, so two
 * seeds look alike and a demo script can name people.
 */
export const DEMO_LMS_PATH = '/dev/lms';
export const DEMO_CLIENT_ID = 'rosterbridge-demo-tool';

const GIVEN = ['Ada', 'Ben', 'Chloe', 'Dev', 'Elif', 'Farah', 'Gus', 'Hana', 'Ines', 'Jonas'];
const FAMILY = ['Okafor', 'Lindqvist', 'Moreau', 'Tanaka', 'Silva', 'Novak', 'Haddad', 'Byrne', 'Kowalski', 'Reyes'];
const PROVISIONED = 30;
const WAITING = 20;
const DOMAIN = 'example.edu';

export interface DemoPerson {
  name: string;
  email: string;
  /** The school id (SCIM externalId) the demo LMS sends as lis.person_sourcedid; null for waiting people. */
  schoolId: string | null;
}

export interface DemoCourse {
  course: CourseView;
  instructor: DemoPerson;
  learners: DemoPerson[];
  waiting: DemoPerson[];
}

export interface DemoSeed {
  tenant: TenantView;
  /** Who owns the demo tenant (a person of the school). */
  owner: string;
  adminToken: string;
  scimToken: string;
  platform: { issuer: string; clientId: string; deploymentId: string };
  counts: { people: number; provisioned: number; waiting: number; groups: number; courses: number; grants: number };
  courses: DemoCourse[];
}

const personAt = (i: number): DemoPerson => {
  const given = GIVEN[i % GIVEN.length];
  const family = FAMILY[Math.floor(i / GIVEN.length) % FAMILY.length];
  return {
    name: `${given} ${family}`,
    email: `${given}.${family}@${DOMAIN}`.toLowerCase(),
    schoolId: `S${1001 + i}`,
  };
};

/** Creates the demo tenant; on any failure the half-made tenant is wiped, so a retry starts clean. */
export async function seedDemo(
  store: Store,
  ctx: ActorContext,
  options: { slug: string; publicUrl: string },
): Promise<DemoSeed> {
  const tenant = await createTenant(store, ctx, { slug: options.slug, name: 'Demo School' });
  try {
    return await fill(store, ctx, tenant, options.publicUrl);
  } catch (err) {
    await wipeTenant(store, ctx, tenant.id, tenant.slug).catch(() => undefined);
    throw err;
  }
}

async function fill(store: Store, ctx: ActorContext, tenant: TenantView, publicUrl: string): Promise<DemoSeed> {
  const admin = await createToken(store, ctx, { tenantId: tenant.id, kind: 'admin', name: 'demo admin' });
  const scim = await createToken(store, ctx, { tenantId: tenant.id, kind: 'scim', name: 'demo IdP' });
  const issuer = `${publicUrl}${DEMO_LMS_PATH}`;
  // A deployment names one tenant, so each demo school on a server gets its own.
  const deploymentId = `demo-${tenant.id}`;
  await addPlatform(store, ctx, tenant.id, {
    issuer,
    clientId: DEMO_CLIENT_ID,
    deploymentId,
    authLoginUrl: `${issuer}/auth`,
    authTokenUrl: `${issuer}/token`,
    jwksUrl: `${issuer}/jwks`,
    trustEmail: true,
    jitCreate: true,
    identityClaim: 'lis.person_sourcedid',
  });

  // People the IdP pushed (as SCIM would), in one transaction.
  const provisioned = Array.from({ length: PROVISIONED }, (_, i) => personAt(i));
  const ids = await inTransaction(store, async (t) => {
    const out: string[] = [];
    for (const p of provisioned) {
      const [givenName, familyName] = p.name.split(' ');
      const { person } = await provisionPerson(store, t, ctx, tenant.id, {
        userName: p.email,
        externalId: p.schoolId,
        displayName: p.name,
        givenName,
        familyName,
        active: true,
        emails: [{ value: p.email, type: 'work', primary: true }],
        scim: {},
      });
      out.push(person.id);
    }
    return out;
  });

  // The school's IT lead owns the tenant; the hosting desk helps as an admin.
  const owner = await addTenantAdmin(store, ctx, tenant.id, `email:${provisioned[PROVISIONED - 1].email}`, 'owner');
  await addTenantAdmin(store, ctx, tenant.id, 'operator:Demo hosting desk');

  const groupNames = ['Year 7', 'Year 8', 'Year 9', 'Science staff', 'Teaching assistants'];
  await inTransaction(store, async (t) => {
    for (const [g, displayName] of groupNames.entries()) {
      const members = ids.filter((_, i) => i % groupNames.length === g).map((id) => ({ id }));
      await createGroup(store, t, ctx, tenant.id, { displayName, externalId: `grp-${g + 1}`, scim: {}, members });
    }
  });

  // Three courses, each with an instructor, ten learners and a share of the people who have not
  // signed in yet (placeholders by email, as a course admin's "can't find the person" makes them).
  const principal: Principal = { kind: 'admin', tenantId: tenant.id, tokenId: admin.view.id };
  const titles = [
    ['Biology 101', 'BIO-101'],
    ['World History', 'HIS-201'],
    ['Algebra I', 'MTH-110'],
  ] as const;
  const courses: DemoCourse[] = [];
  let grants = 0;
  let waitingIndex = PROVISIONED;
  for (const [c, [title, externalKey]] of titles.entries()) {
    const course = await createCourse(store, ctx, tenant.id, { title, externalKey });
    const instructor = provisioned[c];
    const learners = provisioned.slice(3 + c * 9, 3 + c * 9 + 10);
    const enrol = (ref: string, roles: string[]) =>
      setMembership(store, principal, ctx, { courseRef: course.id, personRef: ref, body: { roles } });
    await enrol(`email:${instructor.email}`, ['Instructor']);
    for (const l of learners) await enrol(`email:${l.email}`, ['Learner']);
    const share = Math.ceil(WAITING / titles.length);
    const waiting: DemoPerson[] = [];
    for (let i = 0; i < share && waitingIndex < PROVISIONED + WAITING; i++, waitingIndex++) {
      const w = { ...personAt(waitingIndex), schoolId: null };
      waiting.push(w);
      await enrol(`email:${w.email}`, [i === 0 ? 'TeachingAssistant' : 'Learner']);
    }
    // What the product is for: privileges granted before the person's first sign-in.
    await setPersonPrivileges(store, principal, ctx, {
      courseRef: course.id,
      personRef: `email:${waiting[0].email}`,
      body: { allow: ['grades.view', 'grades.edit'], deny: [] },
    });
    await setPersonPrivileges(store, principal, ctx, {
      courseRef: course.id,
      personRef: `email:${learners[0].email}`,
      body: { allow: [], deny: ['course.view'] },
    });
    grants += 3;
    courses.push({ course, instructor, learners, waiting });
  }

  return {
    tenant,
    owner: owner.name,
    adminToken: admin.token,
    scimToken: scim.token,
    platform: { issuer, clientId: DEMO_CLIENT_ID, deploymentId },
    counts: {
      people: PROVISIONED + WAITING,
      provisioned: PROVISIONED,
      waiting: WAITING,
      groups: groupNames.length,
      courses: titles.length,
      grants,
    },
    courses,
  };
}
