export const ADMIN_PAGE_SCRIPT: string | undefined = undefined;
