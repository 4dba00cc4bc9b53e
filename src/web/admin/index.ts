import { getCookie } from 'hono/cookie';
import { createRegistrationLink } from '../../../lti/registration.js';
import { SESSION_COOKIE, verifySession } from '../../../lti/session.js';
import type { Config } from '../../config.js';
import type { Store } from '../../db/store.js';
import { TokenResolver } from '../../domain/tokens.js';
import { adminPageRoutes } from './routes.js';

/** The school admin page wired to the LTI layer: launch sessions from its cookie, registration links. */
export function adminPage(deps: { config: Config; store: Store; tokens?: TokenResolver }) {
  const { config, store } = deps;
  return adminPageRoutes({
    config,
    store,
    tokens: deps.tokens ?? new TokenResolver(store),
    launchSession: async (c) => {
      const token = getCookie(c, SESSION_COOKIE);
      return token ? verifySession(store, config.publicUrl, token) : null;
    },
    registrationLink: (tenantId) => createRegistrationLink(store, tenantId, config.publicUrl),
  });
}
