/** The shape of every id we issue (gen_random_uuid). Checked before a query, so a malformed id is a clean 404/400, never a database cast error. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
