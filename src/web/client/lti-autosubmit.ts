/** Deep linking response: post the signed JWT back to the platform without a click. */
const form = document.getElementById('dl');
if (form instanceof HTMLFormElement) form.submit();
