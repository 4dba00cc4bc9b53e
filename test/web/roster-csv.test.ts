import { describe, expect, it } from 'vitest';
import { csvToRows } from '../../src/cli/commands-privileges.js';
import { readRoster, RosterFormatError } from '../../src/web/client/roster-csv.js';

/** The page reads an upload exactly as `rosterbridge import` reads its CSV; a plain list is a list. */
describe('the course page reads a roster', () => {
  const csv = [
    '\uFEFFEmail,roles,allow,deny',
    'ada@school.example,Learner,grades.view;course.view,',
    ',,,',
    'ben@school.example,"TeachingAssistant|Mentor",,grades.edit',
    '"cy, the third@school.example",Learner,,',
  ].join('\r\n');

  it('gives the rows the CLI gives, with the line each came from', () => {
    const read = readRoster(csv, 'Learner');
    expect(read.kind).toBe('csv');
    expect(read.rows).toEqual(csvToRows(csv));
    expect(read.lines).toEqual([2, 4, 5]);
  });

  it('refuses what the CLI refuses, in words', () => {
    expect(() => readRoster('email,grade\na@b.example,5', 'Learner')).toThrow(RosterFormatError);
    expect(() => readRoster('email,grade\na@b.example,5', 'Learner')).toThrow(/Unknown CSV column grade/);
    expect(() => csvToRows('email,grade\na@b.example,5')).toThrow(/unknown CSV column grade/);
    expect(() => readRoster('email\n"unterminated', 'Learner')).toThrow(/malformed/);
  });

  it('reads a pasted list of emails and school ids with the chosen role', () => {
    const read = readRoster('ada@school.example, S-1815\n\nben@school.example;', 'Mentor');
    expect(read).toEqual({
      kind: 'list',
      rows: [
        { email: 'ada@school.example', roles: ['Mentor'] },
        { key: 'S-1815', roles: ['Mentor'] },
        { email: 'ben@school.example', roles: ['Mentor'] },
      ],
      lines: [1, 1, 3],
    });
  });
});
