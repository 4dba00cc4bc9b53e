import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/*
 * The data-access rule (docs/decisions/0004-data-access.md): SQL lives in the data layer (src/db,
 * src/domain). Protocol, HTTP, CLI and page code call domain functions and never hold SQL text or
 * the raw query helpers.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const OUTSIDE_THE_DATA_LAYER = ['scim', 'lti', 'src/http', 'src/cli', 'src/web', 'src/contract', 'src/dev'];

// Upper-case keywords, as this codebase writes SQL; page text ("Select the person … from") passes.
const SQL_TEXT = [
  /\bSELECT\s[^'`]*?\bFROM\s+\w/,
  /\bINSERT\s+INTO\s+\w/,
  /\bUPDATE\s+\w+\s+SET\b/,
  /\bDELETE\s+FROM\s+\w/,
  /\bpg_\w*advisory\w*\(/i,
];
const RAW_HELPERS = /from\s+['"][./]*(?:src\/)?db\/sql\.js['"]|sequelize\.query\(/;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(name) ? [path] : [];
  });
}

/** Every string and template literal of a file, the places SQL text would sit. */
function literals(source: string): string[] {
  return [...source.matchAll(/'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\]|\\.)*`/g)].map((m) => m[0]);
}

function violations(source: string): string[] {
  const found = literals(source).filter((text) => SQL_TEXT.some((re) => re.test(text)));
  if (RAW_HELPERS.test(source)) found.push('raw query helper');
  return found;
}

describe('the data-access rule', () => {
  it('finds SQL text, advisory locks and raw query calls when they are there', () => {
    expect(violations("const q = 'SELECT id FROM people WHERE tenant_id = $1';")).toHaveLength(1);
    expect(violations('await store.sequelize.query(`DELETE FROM grants WHERE id = $1`)')).toHaveLength(2);
    expect(violations("import { select } from '../db/sql.js';")).toEqual(['raw query helper']);
    expect(violations('sql`SELECT pg_advisory_xact_lock(1)`')).toHaveLength(1);
    expect(violations("const label = 'Select the person you want, from the list';")).toEqual([]);
    expect(violations("const help = 'Update the grants, then set them';")).toEqual([]);
  });

  it('keeps SQL out of protocol, HTTP, CLI and page code', () => {
    const offenders = OUTSIDE_THE_DATA_LAYER.flatMap((dir) =>
      sourceFiles(join(root, dir)).flatMap((file) =>
        violations(readFileSync(file, 'utf8')).map((what) => `${relative(root, file)}: ${what.slice(0, 80)}`),
      ),
    );
    expect(offenders).toEqual([]);
  });
});
