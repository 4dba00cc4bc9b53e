import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { JWK } from 'jose';
import { SecretUnreadableError } from '../errors.js';

/**
 * The tool's private keys are sealed at rest with AES-256-GCM under a key from the environment
 * (TOOL_KEY_SECRET; previous ones in TOOL_KEY_SECRET_PREVIOUS while rotating), so a copy of the
 * database — a backup, a replica, a tenant export — does not hold a key that can sign launches
 * or mint sessions. Without a secret, keys are stored as they are (and the server says so).
 *
 * Sealed form, in the same jsonb column: {sealed: "A256GCM", key, iv, tag, data} — `key` names the
 * secret (the first 8 bytes of its SHA-256, hex), so rotation can tell which one sealed a row.
 */
export interface KeySealer {
  /** True when a secret is configured: new keys are sealed. */
  readonly sealing: boolean;
  seal(jwk: JWK): unknown;
  /**
   * A sealed or plain stored key. Throws KeySealError when it was sealed under a secret this process
   * does not have, or does not authenticate under the one it names (altered, truncated).
   */
  open(stored: unknown): JWK;
  /** Whether a stored key is already sealed under the current secret. */
  isCurrent(stored: unknown): boolean;
}

interface Sealed {
  sealed: 'A256GCM';
  key: string;
  iv: string;
  tag: string;
  data: string;
}

const idOf = (secret: Buffer) => createHash('sha256').update(secret).digest('hex').slice(0, 16);
const isSealed = (v: unknown): v is Sealed =>
  typeof v === 'object' && v !== null && (v as { sealed?: unknown }).sealed === 'A256GCM';

/**
 * A sealed value this server cannot open: a domain error (409 on the API, see src/http/errors.ts),
 * never a crash. Callers that know what the value is (a OneRoster client secret, a tool key) say so
 * in their own words and keep this as the cause; `keyId` names the secret that sealed it.
 */
export class KeySealError extends SecretUnreadableError {
  constructor(
    message: string,
    readonly keyId: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
  }
}

export function createKeySealer(secrets: Buffer[]): KeySealer {
  const byId = new Map(secrets.map((s) => [idOf(s), s]));
  const current = secrets[0];
  const currentId = current ? idOf(current) : null;
  return {
    sealing: Boolean(current),
    seal(jwk) {
      if (!current) return jwk;
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', current, iv);
      const data = Buffer.concat([cipher.update(JSON.stringify(jwk), 'utf8'), cipher.final()]);
      return {
        sealed: 'A256GCM',
        key: currentId as string,
        iv: iv.toString('base64url'),
        tag: cipher.getAuthTag().toString('base64url'),
        data: data.toString('base64url'),
      } satisfies Sealed;
    },
    open(stored) {
      if (!isSealed(stored)) return stored as JWK;
      const secret = byId.get(stored.key);
      if (!secret)
        throw new KeySealError(
          `A stored secret is sealed with a key this server does not have (key id ${stored.key}): TOOL_KEY_SECRET was changed or lost. Put that key in TOOL_KEY_SECRET_PREVIOUS, or enter the secret again`,
          stored.key,
        );
      try {
        const decipher = createDecipheriv('aes-256-gcm', secret, Buffer.from(stored.iv, 'base64url'));
        decipher.setAuthTag(Buffer.from(stored.tag, 'base64url'));
        const plain = Buffer.concat([decipher.update(Buffer.from(stored.data, 'base64url')), decipher.final()]);
        return JSON.parse(plain.toString('utf8')) as JWK;
      } catch (err) {
        // GCM refuses to decrypt what it cannot authenticate: the stored value was altered.
        throw new KeySealError(
          `A stored secret sealed with key id ${stored.key} does not open with that key (the stored value was altered); enter the secret again`,
          stored.key,
          { cause: err },
        );
      }
    },
    isCurrent(stored) {
      return current ? isSealed(stored) && stored.key === currentId : !isSealed(stored);
    },
  };
}
