'use strict';
(function () {
  // Absent when nobody is signed in (the single sign-on chooser); nothing below needs it then.
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content;
  const result = document.getElementById('result');
  const confirm = document.getElementById('confirm');
  // RFC 8628 §5.4: the code must not linger in the address bar or history once used.
  if (location.search) history.replaceState(null, '', '/device');

  const post = (path, body) =>
    fetch(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: body ? JSON.stringify(body) : undefined,
      credentials: 'same-origin',
    });

  const finish = (text) => {
    if (confirm) confirm.hidden = true;
    result.textContent = text;
    result.hidden = false;
  };

  // Dashes people paste (en dash, em dash, minus sign, …) read as the hyphen codes use.
  const input = document.getElementById('user_code');
  if (input) {
    input.addEventListener('input', () => {
      const fixed = input.value.replace(/[\p{Pd}\u2212]/gu, '-');
      if (fixed !== input.value) input.value = fixed;
      input.removeAttribute('aria-invalid');
    });
  }

  if (!confirm) return;
  const userCode = confirm.dataset.userCode;
  const stopCountdown = window.tesseraCountdown(document.getElementById('time-left'), confirm.dataset.expiresIn, () =>
    finish('This code has expired. Start the sign-in again in your terminal.'),
  );

  const decide = async (decision) => {
    for (const b of confirm.querySelectorAll('button')) b.disabled = true;
    stopCountdown();
    try {
      const res = await post(`/openapi/v1/oauth/device/${decision}`, { user_code: userCode });
      if (res.ok && decision === 'approve') return finish('Device approved. You can return to your terminal.');
      if (res.ok) return finish('Request denied. You can return to your terminal.');
      if (res.status === 401) return location.replace('/signin?next=/device');
      if (res.status === 429) return finish('Too many attempts. Wait a while and try again.');
      finish('That code is not valid. It may have expired or been used already.');
    } catch {
      finish('Could not reach the server. Reload the page and try again.');
    }
  };
  document.getElementById('approve').addEventListener('click', () => decide('approve'));
  document.getElementById('deny').addEventListener('click', () => decide('deny'));
})();
