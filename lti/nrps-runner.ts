import type { Store } from '../src/db/store.js';
import { RosterSyncRunner, type RosterSyncRunnerOptions } from '../src/domain/roster-sync-runner.js';
import { nrpsFetcher, type NrpsClientOptions } from './nrps.js';
import { ServiceTokens } from './service-token.js';
import { toolKeysFor } from './session.js';

/**
 * The roster sync runner wired to NRPS: service tokens signed with the tool's active key (the same
 * keys /lti/jwks publishes), the NRPS client, and the in-process runner. The HTTP app and the CLI
 * build theirs here.
 */
export interface NrpsRunnerOptions extends Omit<RosterSyncRunnerOptions, 'fetchRoster'> {
  client?: Omit<NrpsClientOptions, 'tokens'>;
  tokens?: ServiceTokens;
}

export function createNrpsRunner(store: Store, options: NrpsRunnerOptions = {}): RosterSyncRunner {
  const { client, tokens, ...rest } = options;
  const keys = toolKeysFor(store);
  const serviceTokens = tokens ?? new ServiceTokens({ signingKey: () => keys.signingKey(), fetch: client?.fetch });
  return new RosterSyncRunner(store, { ...rest, fetchRoster: nrpsFetcher({ ...client, tokens: serviceTokens }) });
}
