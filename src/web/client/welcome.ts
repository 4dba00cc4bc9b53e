import {
  Api,
  el,
  nameOf,
  pageData,
  problemText,
  recall,
  remember,
  SignInError,
  signIn,
  type PersonRef,
} from './session.js';

/** The learner landing page: who you are, what you may do, and accepting an invitation. */
interface Data {
  invitation: string | null;
}
interface Me {
  person: PersonRef;
  effective: string[];
}

const data = pageData<Data>();
const status = document.getElementById('status')!;
const say = (msg: string, error = false) => {
  status.textContent = msg;
  status.className = error ? 'error' : '';
};

async function main() {
  let bearer: string | null = null;
  try {
    bearer = await signIn();
  } catch (e) {
    say(e instanceof SignInError ? e.message : 'Signing in failed.', true);
  }
  if (data.invitation) remember('rb_invitation', data.invitation);
  if (!bearer) {
    document.getElementById('signin-help')!.hidden = false;
    return;
  }
  const api = new Api(bearer);
  async function show() {
    const me = await api.get<Me>('/me');
    if (!me.ok || !me.body) {
      say(problemText(me), true);
      return;
    }
    document.getElementById('welcome')!.textContent = `Welcome, ${nameOf(me.body.person)}`;
    const ul = document.getElementById('privileges')!;
    ul.replaceChildren(
      ...(me.body.effective.length
        ? me.body.effective.map((p) => el('li', { text: p }))
        : [el('li', { class: 'muted', text: 'Nothing yet.' })]),
    );
    document.getElementById('mine')!.hidden = false;
  }
  await show();
  const token = data.invitation || recall('rb_invitation');
  if (token) {
    document.getElementById('invite')!.hidden = false;
    document.getElementById('accept')!.addEventListener('click', async () => {
      const r = await api.call('POST', '/invitations/accept', { token });
      remember('rb_invitation', null);
      document.getElementById('invite')!.hidden = true;
      if (r.ok) {
        say('Invitation accepted.');
        await show();
      } else say(problemText(r), true);
    });
  }
}

void main();
