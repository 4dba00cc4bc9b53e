/**
 * Course privileges, by concern:
 *   catalogue.ts    the tenant's privileges and the defaults each LTI role brings
 *   decisions.ts    effective privileges and the `why` of each decision (the decision query)
 *   rules.ts        what a course admin may change (principals, manage/hold/last-manager checks)
 *   grant-writer.ts the one writer of person and group grants, and its lock order
 *   use-cases.ts    the operations behind the API and CLI
 */
export * from './catalogue.js';
export * from './decisions.js';
export * from './grant-writer.js';
export * from './rules.js';
export * from './use-cases.js';
