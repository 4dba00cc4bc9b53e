import { readData, type StorageData, storageCall, storageChannel } from './lti-storage.js';

/** Login response with platform storage: store state and nonce, then go to the auth endpoint. */
interface LoginData extends StorageData {
  authUrl: string;
  state: string;
  nonce: string;
}

async function main() {
  const d = readData<LoginData>('lti-login');
  try {
    const ch = await storageChannel(d);
    await storageCall(ch, d, 'put_data', { key: `s_${d.state}`, value: d.state });
    await storageCall(ch, d, 'put_data', { key: `n_${d.nonce}`, value: d.nonce });
  } finally {
    // Navigate even when storage failed: the state cookie may still come back.
    location.replace(d.authUrl);
  }
}

void main();
