import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { runLaunch } from '../support/platform-emulator.js';
import { resourceLaunch, spec, type LtiEnv } from '../lti/helpers.js';

/**
 * Real Chromium for the page tests: Debian's /usr/bin/chromium driven by playwright-core (never a
 * downloaded browser), axe-core injected into the page, launches through the platform emulator.
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const chromiumPresent = existsSync(CHROMIUM);
export const SCREENSHOTS = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

const axeSource: string = createRequire(import.meta.url)('axe-core').source;

export interface AxeFinding {
  id: string;
  impact: string;
  help: string;
  targets: string[];
}

/**
 * axe-core's serious and critical violations on the page as it is now. Evaluated through the
 * DevTools protocol, which the page's CSP does not govern (the page itself still runs no inline code).
 */
export async function seriousViolations(page: Pick<Page, 'evaluate'>): Promise<string[]> {
  await page.evaluate(axeSource);
  const found: AxeFinding[] = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: Document): Promise<{ violations: unknown[] }> } }).axe;
    const r = await axe.run(document);
    return (r.violations as Array<{ id: string; impact: string; help: string; nodes: Array<{ target: string[] }> }>)
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) }));
  });
  // one readable line per finding, so a failure says what and where
  return found.map((f) => `${f.impact} ${f.id} (${f.help}): ${f.targets.slice(0, 3).join(' | ')}`);
}

export interface Launched {
  /** Where the tool sent the browser, e.g. /app/courses/<id>#lti_ticket=… */
  location: string;
  /** The session cookie the launch set. */
  cookie: string;
}

/** A real launch through the emulator (login → auth → form post), as the LMS would run it. */
export async function launchAs(
  env: LtiEnv,
  o: { sub: string; roles: string[]; sourcedId: string; contextId: string; sisCourse: string },
): Promise<Launched> {
  const result = await runLaunch(
    env.emu,
    spec(
      resourceLaunch(env, {
        sub: o.sub,
        roles: o.roles,
        sourcedId: o.sourcedId,
        contextId: o.contextId,
        extra: {
          'https://purl.imsglobal.org/spec/lti/claim/lis': {
            person_sourcedid: o.sourcedId,
            course_offering_sourcedid: o.sisCourse,
          },
        },
      }),
    ),
    { toolUrl: env.toolUrl },
  );
  const location = result.launch?.headers.get('location');
  const cookie = result.browser.cookies.get('rb_session');
  if (!location || !cookie) throw new Error(`launch failed: ${result.launch?.status}`);
  return { location, cookie };
}

/** A browser context holding the launch's session cookie for the tool, as the launch left it. */
export async function contextWithSession(browser: Browser, env: LtiEnv, cookie: string | null, width = 1280) {
  const context: BrowserContext = await browser.newContext({ viewport: { width, height: 800 } });
  if (cookie) await context.addCookies([{ name: 'rb_session', value: cookie, url: env.toolUrl, httpOnly: true }]);
  return context;
}

export function screenshotPath(name: string): string {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return `${SCREENSHOTS}${name}`;
}
