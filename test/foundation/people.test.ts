import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inTransaction } from '../../src/db/store.js';
import { insertPerson } from '../../src/domain/people.js';
import { createTenant } from '../../src/domain/tenants.js';
import { SeatLimitError } from '../../src/errors.js';
import { backendName, createTestDatabase, type TestDatabase } from '../support/db.js';

describe(`people and seat limits (${backendName})`, () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(() => t.cleanup());

  const ctx = { actor: 'test', requestId: 'req-1' };
  const add = (tenantId: string, userName: string, status: 'provisioned' | 'invited' = 'provisioned') =>
    inTransaction(t.store, (tx) =>
      insertPerson(t.store, tx, ctx, {
        tenantId,
        status,
        source: status === 'invited' ? 'admin' : 'scim',
        userName,
        primaryEmail: `${userName}@School.org`,
      }),
    );

  it('creates a person, lower-cases the email and audits who did it', async () => {
    const tenant = await createTenant(t.store, ctx, { slug: 'people-a', name: 'A' });
    const p = await add(tenant.id, 'Ada');
    expect(p).toMatchObject({
      tenantId: tenant.id,
      userName: 'Ada',
      primaryEmail: 'ada@school.org',
      status: 'provisioned',
      version: 1,
    });
    const audit = await t.store.models.AuditEvent.findOne({ where: { targetId: p.id } });
    expect(audit!.get()).toMatchObject({
      action: 'person.create',
      actor: 'test',
      requestId: 'req-1',
      after: expect.objectContaining({ userName: 'Ada' }),
    });
  });

  it('refuses the seat after the last one, placeholders included (issue #9: they hold seats)', async () => {
    const tenant = await createTenant(t.store, ctx, { slug: 'people-b', name: 'B', seatLimit: 2 });
    await add(tenant.id, 'one');
    await expect(add(tenant.id, 'pending', 'invited')).resolves.toMatchObject({ status: 'invited' });
    await expect(add(tenant.id, 'three')).rejects.toBeInstanceOf(SeatLimitError);
    await expect(add(tenant.id, 'pending-two', 'invited')).rejects.toBeInstanceOf(SeatLimitError);
    // Nothing of the refused person was written, not even its audit event.
    expect(await t.store.models.Person.count({ where: { tenantId: tenant.id, userName: 'three' } })).toBe(0);
  });

  it('never lets concurrent creates exceed the limit', async () => {
    const tenant = await createTenant(t.store, ctx, { slug: 'people-c', name: 'C', seatLimit: 3 });
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => add(tenant.id, `racer${i}`)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    expect(
      results
        .filter((r) => r.status === 'rejected')
        .every((r) => (r as PromiseRejectedResult).reason instanceof SeatLimitError),
    ).toBe(true);
  });
});
