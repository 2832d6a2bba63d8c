'use strict';
// The external-SSO branch of /device: the chooser's buttons, and the confirm view for an
// approval grant (an HttpOnly cookie the page cannot read; approval-context tells what it is for).
(function () {
  // The IdP's code and state (or a user code) must not linger in the address bar or history.
  if (location.search) history.replaceState(null, '', location.pathname);

  for (const id of ['choose-account', 'choose-sso']) {
    const button = document.getElementById(id);
    if (button) button.addEventListener('click', () => location.assign(button.dataset.href));
  }

  const view = document.getElementById('sso-confirm');
  if (!view) return;
  const result = document.getElementById('result');
  const base = '/openapi/v1/oauth/device';
  const text = (id, value) => (document.getElementById(id).textContent = value == null || value === '' ? '(unnamed device)' : String(value));
  const finish = (message) => {
    view.hidden = true;
    result.textContent = message;
    result.hidden = false;
  };

  fetch(`${base}/approval-context`, { credentials: 'same-origin' })
    .then((res) => (res.ok ? res.json() : null))
    .then((ctx) => {
      if (!ctx) return;
      for (const other of document.querySelectorAll('#enter-code, #chooser, #confirm')) other.hidden = true;
      text('sso-email', ctx.subject_email);
      text('sso-issuer', ctx.subject_issuer);
      text('sso-client', ctx.client_id);
      text('sso-device-label', ctx.device_label);
      text('sso-code', ctx.user_code);
      view.hidden = false;
      const stopCountdown = window.tesseraCountdown(document.getElementById('sso-time-left'), ctx.expires_in_remaining, () =>
        finish('This code has expired. Start the sign-in again in your terminal.'),
      );

      const decide = async (decision) => {
        for (const b of view.querySelectorAll('button')) b.disabled = true;
        stopCountdown();
        try {
          const res = await fetch(`${base}/${decision}-external`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': ctx.csrf_token },
            body: JSON.stringify({ user_code: ctx.user_code }),
            credentials: 'same-origin',
          });
          if (res.ok && decision === 'approve') return finish('Device approved. You can return to your terminal.');
          if (res.ok) return finish('Request denied. You can return to your terminal.');
          if (res.status === 401) return finish('This approval has expired or was already used. Start the sign-in again in your terminal.');
          if (res.status === 429) return finish('Too many attempts. Wait a while and try again.');
          finish('That code is not valid. It may have expired or been used already.');
        } catch {
          finish('Could not reach the server. Reload the page and try again.');
        }
      };
      document.getElementById('sso-approve').addEventListener('click', () => decide('approve'));
      document.getElementById('sso-deny').addEventListener('click', () => decide('deny'));
    })
    .catch(() => undefined);
})();
