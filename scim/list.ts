import { QueryTypes } from 'sequelize';
import { ScimError } from './errors.js';
import { decodeCursor, encodeCursor, listResponse, type Json, type ListParams, type ScimDeps } from './common.js';
import { Binder, scimFilterToSql, sortExpression } from './filter-to-sql.js';
import type { ResourceKind } from './schemas.js';

/**
 * One page of a resource list, filtered and sorted in SQL (RFC 7644 §3.4.2), paged either by index
 * (startIndex/count, stable order with the id as tie-breaker) or by cursor (RFC 9865: keyset on the
 * id, so page 500 costs what page 1 costs). totalResults is counted only when the page itself does
 * not already tell it.
 */
export interface ListSpec {
  kind: ResourceKind;
  tenantId: string;
  params: ListParams;
  /** e.g. `people p`: alias p (User) or g (Group), which the filter translator refers to */
  from: string;
  visible: string;
  select: string;
  idColumn: string;
  extraWhere?: { sql: string; bind: unknown[] };
}

export interface Page<R> {
  rows: R[];
  total: number;
  response(render: (row: R) => Json): Json;
}

export async function listPage<R extends { id: string }>(deps: ScimDeps, spec: ListSpec): Promise<Page<R>> {
  const { params, idColumn } = spec;
  const alias = spec.from.split(' ').pop();
  const b = new Binder([spec.tenantId]);
  const where = [`${alias}.tenant_id = $1`, spec.visible];
  if (params.filter !== undefined) where.push(scimFilterToSql(params.filter, spec.kind, b));
  const countWhere = [...where];
  const countParams = [...b.params];
  const run = <T extends object>(sql: string, bind: unknown[]) =>
    deps.store.sequelize.query<T>(sql, { bind, type: QueryTypes.SELECT });
  const count = async () =>
    (
      await run<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${spec.from} WHERE ${countWhere.join(' AND ')}`,
        countParams,
      )
    )[0].n;

  if (params.cursor !== undefined) {
    if (params.sortBy) throw new ScimError(400, 'invalidValue', 'sortBy cannot be combined with cursor paging');
    const after = decodeCursor(params.cursor);
    if (after) where.push(`${idColumn} > ${b.add(after)}::uuid`);
    const limit = params.count;
    const rows = await run<R>(
      `SELECT ${spec.select} FROM ${spec.from} WHERE ${where.join(' AND ')} ORDER BY ${idColumn} LIMIT ${limit + 1}`,
      b.params,
    );
    const more = rows.length > limit;
    const pageRows = rows.slice(0, limit);
    const total = !after && !more ? pageRows.length : await count();
    const nextCursor = more && pageRows.length ? encodeCursor(pageRows[pageRows.length - 1].id) : undefined;
    return {
      rows: pageRows,
      total,
      response: (render) => {
        const body = listResponse(pageRows.map(render), total, 1, nextCursor ? { nextCursor } : {});
        delete (body as Partial<typeof body>).startIndex; // index paging's field; a cursor page has none
        return body;
      },
    };
  }

  const dir = params.sortOrder === 'descending' ? 'DESC' : 'ASC';
  const order = params.sortBy
    ? `${sortExpression(spec.kind, params.sortBy)} ${dir} NULLS LAST, ${idColumn} ${dir}`
    : idColumn;
  const offset = params.startIndex - 1;
  const rows =
    params.count === 0
      ? []
      : await run<R>(
          `SELECT ${spec.select} FROM ${spec.from} WHERE ${where.join(' AND ')} ORDER BY ${order} LIMIT ${params.count} OFFSET ${offset}`,
          b.params,
        );
  const total =
    rows.length > 0 && rows.length < params.count
      ? offset + rows.length
      : offset === 0 && rows.length === 0 && params.count > 0
        ? 0
        : await count();
  return { rows, total, response: (render) => listResponse(rows.map(render), total, params.startIndex) };
}
