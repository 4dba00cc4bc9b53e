import type { Store } from '../src/db/store.js';
import {
  findPlatformsForLogin,
  registryGeneration,
  resolveDeployment,
  type PlatformView,
} from '../src/domain/platforms.js';

/**
 * Every login and launch looks up the platform registry; registrations change rarely. Positive
 * answers are cached for a few seconds (dropped at once on a write in this process); misses are
 * never cached, so a newly added deployment works immediately here and within `ttlMs` elsewhere.
 * Deployments are never moved between tenants, so a cached answer cannot route to the wrong school.
 */
export class RegistryCache {
  private readonly entries = new Map<string, { at: number; gen: number; value: unknown }>();
  constructor(
    private readonly store: Store,
    private readonly ttlMs = 10_000,
  ) {}

  private async cached<T>(key: string, load: () => Promise<T>, isHit: (v: T) => boolean): Promise<T> {
    const e = this.entries.get(key);
    if (e && e.gen === registryGeneration() && Date.now() - e.at < this.ttlMs) return e.value as T;
    const value = await load();
    if (isHit(value)) {
      if (this.entries.size > 10_000) this.entries.clear(); // bounded: keys come from the network
      this.entries.set(key, { at: Date.now(), gen: registryGeneration(), value });
    } else this.entries.delete(key);
    return value;
  }

  forLogin(issuer: string, clientId: string | undefined): Promise<PlatformView[]> {
    return this.cached(
      `l\0${issuer}\0${clientId ?? ''}\0${clientId === undefined}`,
      () => findPlatformsForLogin(this.store, issuer, clientId),
      (v) => v.length > 0,
    );
  }

  deployment(issuer: string, clientId: string, deploymentId: string): Promise<PlatformView | null> {
    return this.cached(
      `d\0${issuer}\0${clientId}\0${deploymentId}`,
      () => resolveDeployment(this.store, issuer, clientId, deploymentId),
      (v) => v !== null,
    );
  }
}
