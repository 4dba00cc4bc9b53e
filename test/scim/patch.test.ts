import { describe, expect, it } from 'vitest';
import { applyPatch, readPatchRequest } from '../../scim/patch.js';
import { URN } from '../../scim/schemas.js';

const ENT = URN.enterprise;
const user = () => ({
  userName: 'bjensen@school.org',
  externalId: 'bj',
  active: true,
  name: { givenName: 'Barbara', familyName: 'Jensen' },
  emails: [
    { value: 'bjensen@school.org', type: 'work', primary: true },
    { value: 'babs@home.example', type: 'home', primary: false },
  ],
});
const patch = (doc: Record<string, unknown>, ops: unknown[], kind: 'User' | 'Group' = 'User') =>
  applyPatch(kind, doc, readPatchRequest({ schemas: [URN.patchOp], Operations: ops }));
const errorOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return { status: (err as { status: number }).status, scimType: (err as { scimType: string }).scimType };
  }
  return undefined;
};

describe('PATCH engine', () => {
  it('accepts op in any case and booleans as strings (Entra: "Replace", "False")', () => {
    const out = patch(user(), [{ op: 'Replace', path: 'active', value: 'False' }]);
    expect(out.active).toBe(false);
  });

  it("applies Okta's path-less {op:replace, value:{active:false}}", () => {
    expect(patch(user(), [{ op: 'replace', value: { active: false } }]).active).toBe(false);
  });

  it('treats keys of a path-less value as paths (name.givenName, extension URN keys)', () => {
    const out = patch(user(), [
      {
        op: 'replace',
        value: {
          'name.givenName': 'Babs',
          [`${ENT}:department`]: 'Math',
          [ENT]: { costCenter: 'CC1' },
          displayName: 'Babs J',
        },
      },
    ]);
    expect(out.name).toEqual({ givenName: 'Babs', familyName: 'Jensen' });
    expect(out[ENT]).toEqual({ department: 'Math', costCenter: 'CC1' });
    expect(out.displayName).toBe('Babs J');
  });

  it('accepts manager as a string, {value} or [{$ref, value}] with "$ref": null', () => {
    for (const value of ['m-1', { value: 'm-1' }, [{ $ref: null, value: 'm-1' }]]) {
      const out = patch(user(), [{ op: 'add', path: `${ENT}:manager`, value }]);
      expect((out[ENT] as { manager: { value: string } }).manager.value).toBe('m-1');
    }
  });

  it('replaces emails[type eq "work"].value on the matching element only', () => {
    const out = patch(user(), [{ op: 'replace', path: 'emails[type eq "work"].value', value: 'new@school.org' }]);
    expect(out.emails).toEqual([
      { value: 'new@school.org', type: 'work', primary: true },
      { value: 'babs@home.example', type: 'home', primary: false },
    ]);
  });

  it('creates the element when emails[type eq "work"].value matches nothing yet (Entra)', () => {
    const doc = { ...user(), emails: [] };
    expect(patch(doc, [{ op: 'replace', path: 'emails[type eq "work"].value', value: 'w@school.org' }]).emails).toEqual(
      [{ type: 'work', value: 'w@school.org' }],
    );
  });

  it('adds members without duplicates and removes them by filter or by value array', () => {
    const group = { displayName: 'Teachers', members: [{ value: 'a' }, { value: 'b' }] };
    const added = patch(
      group,
      [{ op: 'Add', path: 'members', value: [{ value: 'b' }, { value: 'c', $ref: null }] }],
      'Group',
    );
    expect((added.members as Array<{ value: string }>).map((m) => m.value)).toEqual(['a', 'b', 'c']);
    const byFilter = patch(added, [{ op: 'remove', path: 'members[value eq "a"]' }], 'Group');
    expect((byFilter.members as Array<{ value: string }>).map((m) => m.value)).toEqual(['b', 'c']);
    const byArray = patch(added, [{ op: 'Remove', path: 'members', value: [{ value: 'a' }, { value: 'c' }] }], 'Group');
    expect((byArray.members as Array<{ value: string }>).map((m) => m.value)).toEqual(['b']);
    expect(patch(added, [{ op: 'remove', path: 'members' }], 'Group').members).toBeUndefined();
  });

  it('handles thousands of members in one operation', () => {
    const values = Array.from({ length: 5000 }, (_, i) => ({ value: `m${i}` }));
    const out = patch({ displayName: 'All' }, [{ op: 'add', path: 'members', value: values }], 'Group');
    expect((out.members as unknown[]).length).toBe(5000);
  });

  it('is all-or-nothing: one bad operation leaves the document unchanged', () => {
    const doc = user();
    expect(
      errorOf(() =>
        patch(doc, [
          { op: 'replace', path: 'displayName', value: 'X' },
          { op: 'replace', path: 'nope', value: 1 },
        ]),
      ),
    ).toEqual({
      status: 400,
      scimType: 'invalidPath',
    });
    expect(doc).toEqual(user());
  });

  it('rejects unknown paths, read-only attributes, bad ops and path-less remove with the RFC scimType', () => {
    expect(errorOf(() => patch(user(), [{ op: 'replace', path: 'bogus.attr', value: 1 }]))).toEqual({
      status: 400,
      scimType: 'invalidPath',
    });
    expect(errorOf(() => patch(user(), [{ op: 'replace', path: 'id', value: 'x' }]))).toEqual({
      status: 400,
      scimType: 'mutability',
    });
    expect(errorOf(() => patch(user(), [{ op: 'move', path: 'userName', value: 'x' }]))).toEqual({
      status: 400,
      scimType: 'invalidSyntax',
    });
    expect(errorOf(() => patch(user(), [{ op: 'remove' }]))).toEqual({ status: 400, scimType: 'noTarget' });
    expect(errorOf(() => readPatchRequest({ Operations: [] }))).toEqual({ status: 400, scimType: 'invalidSyntax' });
  });

  it('keeps attributes no schema knows when a path-less value carries them', () => {
    expect(patch(user(), [{ op: 'add', value: { schoolHouse: 'Gryffindor' } }]).schoolHouse).toBe('Gryffindor');
  });
});
