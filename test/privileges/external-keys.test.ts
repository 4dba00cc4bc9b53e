import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { privilegesHarness, scim } from './helpers.js';

/**
 * The card's promise: a grant a course admin made by typing a school id carries the person's
 * external keys — userName, externalId, every email, the LMS identity links — in the course's
 * privilege list, so the admin can see who the grant reached.
 */
let h: Awaited<ReturnType<typeof privilegesHarness>>;

beforeAll(async () => {
  h = await privilegesHarness();
});
afterAll(() => h?.close());

describe('the course privilege list', () => {
  it("shows each person's external keys by association", async () => {
    const user = await scim(h.server, h.scimToken, 'POST', '/Users', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: 'grace@north.example',
      externalId: 'SIS-1906',
      name: { givenName: 'Grace', familyName: 'Hopper' },
      emails: [
        { value: 'grace@north.example', type: 'work', primary: true },
        { value: 'grace@home.example', type: 'home' },
      ],
    });
    // The LMS already knows her: an identity link from an earlier launch on the school's platform.
    const { models } = h.server.store;
    const platform = await models.LtiPlatform.create({
      tenantId: h.tenant.id,
      issuer: 'https://canvas.north.example',
      clientId: '10000000000042',
      authLoginUrl: 'https://canvas.north.example/auth',
      authTokenUrl: 'https://canvas.north.example/token',
      jwksUrl: 'https://canvas.north.example/jwks',
    });
    await models.IdentityLink.create({
      tenantId: h.tenant.id,
      personId: user.id,
      platformId: platform.id,
      sub: 'canvas-user-77',
      matchedBy: 'email',
    });
    const course = (await h.api.post('/courses', { title: 'Compilers' })).body.id;
    expect((await h.api.put(`/courses/${course}/privileges/key:SIS-1906`, { allow: ['grades.view'] })).status).toBe(
      200,
    );

    const listed = (await h.api.get(`/courses/${course}/privileges`)).body.items;
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({
      person: {
        id: user.id,
        userName: 'grace@north.example',
        externalId: 'SIS-1906',
        emails: [
          { value: 'grace@north.example', primary: true },
          { value: 'grace@home.example', primary: false },
        ],
        identityLinks: [{ issuer: 'https://canvas.north.example', sub: 'canvas-user-77' }],
      },
      allow: ['grades.view'],
    });
  });
});
