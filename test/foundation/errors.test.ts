import { ConnectionRefusedError, DatabaseError } from 'sequelize';
import { describe, expect, it } from 'vitest';
import { ConflictError, InvalidJsonError } from '../../src/errors.js';
import { toAppError } from '../../src/http/errors.js';

const pgError = (code: string) =>
  new DatabaseError(Object.assign(new Error(`pg ${code}`), { code, sql: 'SELECT 1', parameters: [] }) as never);

describe('mapping errors to responses', () => {
  it('keeps typed errors as they are', () => {
    const e = new ConflictError('taken');
    expect(toAppError(e)).toBe(e);
  });

  it('turns malformed JSON into 400 invalid_json with scimType invalidSyntax', () => {
    const e = toAppError(new SyntaxError('Unexpected token }'));
    expect(e).toBeInstanceOf(InvalidJsonError);
    expect(e.status).toBe(400);
    expect(e.scimType).toBe('invalidSyntax');
  });

  it.each(['40P01', '40001', '55P03'])(
    'answers a transient database failure (%s) with 503 and Retry-After, not 500',
    (code) => {
      const e = toAppError(pgError(code));
      expect(e.status).toBe(503);
      expect(e.headers).toEqual({ 'Retry-After': '1' });
    },
  );

  it('answers an unreachable database with 503', () => {
    expect(toAppError(new ConnectionRefusedError(new Error('ECONNREFUSED') as never)).status).toBe(503);
  });

  it('hides everything else behind a 500 that exposes nothing', () => {
    const e = toAppError(new TypeError('secret internals'));
    expect(e.status).toBe(500);
    expect(e.expose).toBe(false);
    expect(toAppError(pgError('23502')).status).toBe(500);
  });
});
