/** After dynamic registration: tell the platform's registration window to close (LTI DR §3.6). */
const message = JSON.parse(document.getElementById('lti-close')?.textContent || '{}') as { subject: string };
(window.opener || window.parent).postMessage(message, '*');
