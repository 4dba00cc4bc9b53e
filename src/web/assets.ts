import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/**
 * The browser code: TypeScript under src/web/client/, type-checked with the rest of the project and
 * bundled here by esbuild once per process (lazily, in memory). Pages load a bundle from this
 * origin (`/app/assets/<name>.js`) under their CSP nonce; nothing comes from a CDN.
 */
export const CLIENT_ENTRIES = [
  'course-admin',
  'welcome',
  'lti-login',
  'lti-verify',
  'lti-autosubmit',
  'lti-registered',
  'admin',
] as const;
export type ClientEntry = (typeof CLIENT_ENTRIES)[number];

export interface ClientAsset {
  code: string;
  etag: string;
}

const clientDir = fileURLToPath(new URL('./client/', import.meta.url));

/** The entry's source: the .ts file (tsx, tests) or its compiled .js beside it (dist). */
function entryFile(name: string): string {
  const ts = `${clientDir}${name}.ts`;
  return existsSync(ts) ? ts : `${clientDir}${name}.js`;
}

async function bundleAll(): Promise<Map<string, ClientAsset>> {
  const out = await build({
    entryPoints: Object.fromEntries(CLIENT_ENTRIES.map((n) => [n, entryFile(n)])),
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: ['es2020'],
    minify: true,
    legalComments: 'none',
    outdir: '/assets',
    logLevel: 'silent',
  });
  const assets = new Map<string, ClientAsset>();
  for (const file of out.outputFiles) {
    const name = file.path.replace(/^.*\//, '').replace(/\.js$/, '');
    const etag = `"${createHash('sha256').update(file.contents).digest('base64url').slice(0, 22)}"`;
    assets.set(name, { code: file.text, etag });
  }
  return assets;
}

let bundled: Promise<Map<string, ClientAsset>> | undefined;
/** Every bundle, built on first use and kept for the life of the process. */
export function clientAssets(): Promise<Map<string, ClientAsset>> {
  if (!bundled) {
    bundled = bundleAll();
    bundled.catch(() => {
      bundled = undefined; // a failed build is retried by the next request
    });
  }
  return bundled;
}

export const assetPath = (name: ClientEntry): string => `/app/assets/${name}.js`;
