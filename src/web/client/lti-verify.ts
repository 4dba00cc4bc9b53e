import { readData, type StorageData, storageCall, storageChannel } from './lti-storage.js';

/** Launch response without the state cookie: prove the browser through platform storage first. */
interface VerifyData extends StorageData {
  state: string;
  nonce: string;
  ticket: string;
  confirmUrl: string;
}

async function main() {
  const d = readData<VerifyData>('lti-verify');
  const out = document.getElementById('status')!;
  const fail = (why: string) => {
    out.textContent = `The tool could not confirm this launch (${why}). Open the tool in a new window.`;
    out.dataset.result = 'failed';
  };
  try {
    const ch = await storageChannel(d);
    const s = await storageCall(ch, d, 'get_data', { key: `s_${d.state}` });
    const n = await storageCall(ch, d, 'get_data', { key: `n_${d.nonce}` });
    if (!s || s.value !== d.state || !n || n.value !== d.nonce)
      return fail('platform storage did not return this launch');
    const res = await fetch(d.confirmUrl, {
      method: 'POST',
      credentials: 'omit',
      headers: { 'content-type': 'application/json', 'x-lti-confirm': '1' },
      body: JSON.stringify({ ticket: d.ticket, state: d.state }),
    });
    if (!res.ok) return fail('confirmation refused');
    const body = (await res.json()) as { redirectTo: string; token: string };
    await Promise.all([
      storageCall(ch, d, 'put_data', { key: `s_${d.state}`, value: null }),
      storageCall(ch, d, 'put_data', { key: `n_${d.nonce}`, value: null }),
    ]);
    out.dataset.result = 'confirmed';
    // Third-party iframes that block cookies usually block sessionStorage too: hand the bearer
    // session to the app page in the fragment (never sent to a server); the page keeps it in memory.
    location.replace(`${body.redirectTo}#rb_session=${encodeURIComponent(body.token)}`);
  } catch {
    fail('error');
  }
}

void main();
