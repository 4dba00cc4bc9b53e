import type { DirectoryPage, DirectoryQuery } from '../src/domain/directory-page.js';
import { ScimError } from './errors.js';
import { decodeCursor, encodeCursor, listResponse, type Json, type ListParams } from './common.js';
import { directoryFilter, sortAttr } from './filter.js';
import type { ResourceKind } from './schemas.js';

/**
 * One page of a resource list (RFC 7644 §3.4.2): the list parameters as a directory query, paged
 * either by index (startIndex/count) or by cursor (RFC 9865: keyset on the id). The domain runs the
 * query; this module speaks the protocol (cursor tokens, ListResponse).
 */
export interface Page<R> {
  rows: R[];
  total: number;
  response(render: (row: R) => Json): Json;
}

export function directoryQuery(kind: ResourceKind, params: ListParams): DirectoryQuery {
  const filter = params.filter !== undefined ? directoryFilter(params.filter, kind) : undefined;
  if (params.cursor !== undefined) {
    if (params.sortBy) throw new ScimError(400, 'invalidValue', 'sortBy cannot be combined with cursor paging');
    return { filter, page: { after: decodeCursor(params.cursor), count: params.count } };
  }
  const sort = params.sortBy
    ? {
        attr: sortAttr(kind, params.sortBy),
        label: params.sortBy,
        descending: params.sortOrder === 'descending',
      }
    : undefined;
  return { filter, page: { startIndex: params.startIndex, count: params.count, sort } };
}

export async function listPage<R extends { id: string }>(
  kind: ResourceKind,
  params: ListParams,
  run: (query: DirectoryQuery) => Promise<DirectoryPage<R>>,
): Promise<Page<R>> {
  const { rows, total, more } = await run(directoryQuery(kind, params));
  if (params.cursor !== undefined) {
    const nextCursor = more && rows.length ? encodeCursor(rows[rows.length - 1].id) : undefined;
    return {
      rows,
      total,
      response: (render) => {
        const body = listResponse(rows.map(render), total, 1, nextCursor ? { nextCursor } : {});
        delete (body as Partial<typeof body>).startIndex; // index paging's field; a cursor page has none
        return body;
      },
    };
  }
  return { rows, total, response: (render) => listResponse(rows.map(render), total, params.startIndex) };
}
