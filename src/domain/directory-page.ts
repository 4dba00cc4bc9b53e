import { select } from '../db/sql.js';
import type { Store } from '../db/store.js';
import { Binder, filterSql, orderSql, type DirectoryAttr, type DirectoryFilter } from './directory-query.js';

/**
 * One page of people or groups, filtered and sorted in SQL, paged either by index (offset/count,
 * stable order with the id as tie-breaker) or after an id (keyset: page 500 costs what page 1
 * costs). The total is counted only when the page itself does not already tell it.
 */
export interface DirectoryQuery {
  filter?: DirectoryFilter;
  page: IndexPage | KeysetPage;
}
export interface IndexPage {
  /** 1-based, as SCIM's startIndex. */
  startIndex: number;
  count: number;
  sort?: { attr: DirectoryAttr; label: string; descending: boolean };
}
export interface KeysetPage {
  /** Rows after this id (null: from the start), in id order. */
  after: string | null;
  count: number;
}
export interface DirectoryPage<R> {
  rows: R[];
  total: number;
  /** Keyset paging only: rows follow this page. */
  more: boolean;
}

/** Where a resource's rows live; written by the query modules beside each resource. */
export interface DirectoryTable {
  resource: DirectoryFilter['resource'];
  /** e.g. `people p`: alias p (person) or g (group), which the filter translator refers to */
  from: string;
  visible: string;
  select: string;
  idColumn: string;
}

export async function queryDirectoryPage<R extends { id: string }>(
  store: Store,
  tenantId: string,
  table: DirectoryTable,
  query: DirectoryQuery,
): Promise<DirectoryPage<R>> {
  const { idColumn } = table;
  const alias = table.from.split(' ').pop();
  const b = new Binder([tenantId]);
  const where = [`${alias}.tenant_id = $1`, table.visible];
  if (query.filter) where.push(filterSql(query.filter, b));
  const countWhere = [...where];
  const countParams = [...b.params];
  const count = async () =>
    (
      await select<{ n: number }>(
        store,
        `SELECT count(*)::int AS n FROM ${table.from} WHERE ${countWhere.join(' AND ')}`,
        countParams,
      )
    )[0].n;

  const page = query.page;
  if ('after' in page) {
    if (page.after) where.push(`${idColumn} > ${b.add(page.after)}::uuid`);
    const limit = page.count;
    const rows = await select<R>(
      store,
      `SELECT ${table.select} FROM ${table.from} WHERE ${where.join(' AND ')} ORDER BY ${idColumn} LIMIT ${limit + 1}`,
      b.params,
    );
    const more = rows.length > limit;
    const pageRows = rows.slice(0, limit);
    const total = !page.after && !more ? pageRows.length : await count();
    return { rows: pageRows, total, more };
  }

  const dir = page.sort?.descending ? 'DESC' : 'ASC';
  const order = page.sort
    ? `${orderSql(table.resource, page.sort.attr, page.sort.label)} ${dir} NULLS LAST, ${idColumn} ${dir}`
    : idColumn;
  const offset = page.startIndex - 1;
  const rows =
    page.count === 0
      ? []
      : await select<R>(
          store,
          `SELECT ${table.select} FROM ${table.from} WHERE ${where.join(' AND ')} ORDER BY ${order} LIMIT ${page.count} OFFSET ${offset}`,
          b.params,
        );
  const total =
    rows.length > 0 && rows.length < page.count
      ? offset + rows.length
      : offset === 0 && rows.length === 0 && page.count > 0
        ? 0
        : await count();
  return { rows, total, more: false };
}
