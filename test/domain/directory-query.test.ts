import { scimErrorJson } from '../../scim/errors.js';
import type { AppError } from '../../src/errors.js';
import { describe, expect, it } from 'vitest';
import { directoryFilter, parseScimFilter, sortAttr } from '../../scim/filter.js';
import type { ResourceKind } from '../../scim/schemas.js';
import { Binder, filterSql, orderSql } from '../../src/domain/directory-query.js';

// A SCIM filter as scim/ parses and resolves it, translated by the domain (tenant id is $1).
const sql = (filter: string, kind: ResourceKind = 'User') => {
  const b = new Binder(['tenant']);
  return { sql: filterSql(directoryFilter(filter, kind), b), params: b.params.slice(1) };
};
const sortExpression = (kind: ResourceKind, sortBy: string) =>
  orderSql(kind === 'User' ? 'person' : 'group', sortAttr(kind, sortBy), sortBy);
const scimTypeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    // What the SCIM surface answers for it (the domain error itself knows no status or scimType).
    const json = scimErrorJson(err as AppError);
    return { status: Number(json.status), scimType: json.scimType };
  }
  return undefined;
};

describe('SCIM filter → SQL', () => {
  it('binds every value as a parameter, never as SQL text', () => {
    const evil = `x' OR 1=1; DROP TABLE people; --`;
    const r = sql(`userName eq ${JSON.stringify(evil)}`);
    expect(r.sql).toBe('(lower(p.user_name) = lower($2))');
    expect(r.params).toEqual([evil]);
  });

  it('compares userName case-insensitively (lower() on both sides, in SQL) and externalId exactly', () => {
    expect(sql('userName eq "BJensen"')).toEqual({ sql: '(lower(p.user_name) = lower($2))', params: ['BJensen'] });
    expect(sql('externalId eq "AbC"')).toEqual({ sql: '(p.external_id = $2)', params: ['AbC'] });
  });

  it('accepts unquoted values as Entra documents them (externalId eq jyoung)', () => {
    expect(sql('externalId eq jyoung')).toEqual({ sql: '(p.external_id = $2)', params: ['jyoung'] });
    expect(sql('userName sw O').params).toEqual(['O%']);
    expect(sql('active eq True').params).toEqual([true]);
  });

  it('requires both conditions of emails[type eq "work" and value co "@x"] on the SAME email row', () => {
    const r = sql('emails[type eq "work" and value co "@school.org"]');
    expect(r.sql).toMatch(
      /^EXISTS \(SELECT 1 FROM person_emails e WHERE .* AND \(\(lower\(e\.type\) = lower\(\$2\)\) AND \(e\.value_lower LIKE lower\(\$3\)\)\)\)$/,
    );
    expect(r.params).toEqual(['work', '%@school.org%']);
  });

  it('folds emails[type eq "work"].value eq "x" into one EXISTS (the parser would make two)', () => {
    const r = sql('emails[type eq "work"].value eq "a@school.org"');
    expect(r.sql.match(/EXISTS/g)).toHaveLength(1);
    expect(r.params).toEqual(['work', 'a@school.org']);
  });

  it('translates every operator, and/or/not and grouping', () => {
    for (const [op, param] of [
      ['eq', 'X'],
      ['ne', 'X'],
      ['co', '%X%'],
      ['sw', 'X%'],
      ['ew', '%X'],
      ['gt', 'X'],
      ['ge', 'X'],
      ['lt', 'X'],
      ['le', 'X'],
    ]) {
      expect(sql(`displayName ${op} "X"`).params).toEqual([param]);
    }
    expect(sql('title pr').sql).toContain('IS NOT NULL');
    const r = sql('not (active eq false) and (userName sw "a" or userName sw "b")');
    expect(r.sql).toContain('NOT COALESCE');
    expect(r.sql).toContain(' OR ');
    expect(r.params).toEqual([false, 'a%', 'b%']);
  });

  it('escapes LIKE wildcards in co/sw/ew values', () => {
    expect(sql('userName co "50%_off"').params).toEqual(['%50\\%\\_off%']);
  });

  it('reads extension attributes by URN, sub-attributes and meta dates', () => {
    expect(sql('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Math"').sql).toContain(
      `p.scim #>> '{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","department"}'`,
    );
    expect(sql('name.FamilyName eq "Jensen"').sql).toBe('(lower(p.family_name) = lower($2))');
    expect(sql('meta.lastModified gt "2011-05-13T04:42:34Z"')).toEqual({
      sql: '(p.updated_at > $2::timestamptz)',
      params: ['2011-05-13T04:42:34.000Z'],
    });
  });

  it('filters groups by members.value and displayName', () => {
    const id = '2819c223-7f76-453a-919d-413861904646';
    expect(sql(`members[value eq "${id}"]`, 'Group').params).toEqual([id]);
    expect(sql('displayName eq "Teachers"', 'Group').sql).toBe('(lower(g.display_name) = lower($2))');
  });

  it('answers 400 invalidFilter for unknown attributes, bad syntax and bad values', () => {
    for (const bad of [
      'bogus eq "x"',
      'userName eq',
      'userName zz "x"',
      '(userName eq "x"',
      'password eq "x"',
      'meta.created gt "not a date"',
      'active gt true',
    ]) {
      expect(
        scimTypeOf(() => sql(bad)),
        bad,
      ).toEqual({ status: 400, scimType: 'invalidFilter' });
    }
    expect(scimTypeOf(() => sql('userName eq "x"', 'Group'))).toEqual({ status: 400, scimType: 'invalidFilter' });
  });

  it('sorts only by single-valued attributes (and emails by the primary one)', () => {
    expect(sortExpression('User', 'userName')).toBe('lower(p.user_name)');
    expect(sortExpression('User', 'emails')).toBe('p.primary_email');
    expect(scimTypeOf(() => sortExpression('User', 'nope'))).toEqual({ status: 400, scimType: 'invalidValue' });
  });

  it('keeps the parse tree of plain filters as scim2-parse-filter produces it', () => {
    expect(parseScimFilter('userName eq "a"')).toEqual({ op: 'eq', attrPath: 'userName', compValue: 'a' });
  });
});
