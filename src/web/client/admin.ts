/**
 * The school admin page's browser code. Every panel works without it (the page is rendered on the
 * server and writes are plain form posts); this adds the copy buttons beside the URLs and secrets
 * to paste into the identity provider and the LMS, and says what was copied.
 */
const status = document.getElementById('copy-status');

function announce(text: string) {
  if (!status) return;
  status.textContent = '';
  // a fresh text node each time, so screen readers announce a repeated message
  window.setTimeout(() => {
    status.textContent = text;
  }, 50);
}

async function copy(input: HTMLInputElement): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(input.value);
    return true;
  } catch {
    input.focus();
    input.select();
    try {
      return document.execCommand('copy');
    } catch {
      return false;
    }
  }
}

for (const button of document.querySelectorAll<HTMLButtonElement>('button[data-copy]')) {
  const input = document.getElementById(button.dataset.copy ?? '');
  if (!(input instanceof HTMLInputElement)) continue;
  const label = document.querySelector(`label[for="${input.id}"]`)?.textContent?.trim() ?? 'the value';
  button.hidden = false;
  button.addEventListener('click', async () => {
    const ok = await copy(input);
    announce(ok ? `Copied ${label}.` : `Could not copy ${label}: it is selected, copy it with your keyboard.`);
    if (ok) {
      button.textContent = 'Copied';
      window.setTimeout(() => {
        button.textContent = 'Copy';
      }, 2000);
    }
  });
}

// A secret shown once: select it, so the admin can copy it straight away.
const secret = document.querySelector<HTMLInputElement>('#new-token-value, #registration-link');
secret?.focus();
secret?.select();
