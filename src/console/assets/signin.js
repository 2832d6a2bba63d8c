'use strict';
(function () {
  const form = document.getElementById('signin');
  const error = document.getElementById('signin-error');
  // The server only renders same-origin paths; checking again here, by the same rule
  // (the normalised path must not start with // or /\, which name another host), costs nothing.
  const wanted = new URL(form.dataset.next || '/device', location.origin);
  const path = wanted.pathname + wanted.search;
  const next = wanted.origin === location.origin && /^\/(?![/\\])/.test(path) ? path : '/device';
  // The return address may carry a user code: keep it in memory, not in the address bar.
  history.replaceState(null, '', '/signin');

  // "in 14 minutes", "in 40 seconds": the wait the server sent with its 429.
  const wait = (ms) => {
    const seconds = Math.max(1, Math.ceil(ms / 1000));
    if (seconds < 60) return `${seconds} second${seconds === 1 ? '' : 's'}`;
    const minutes = Math.ceil(seconds / 60);
    return `${minutes} minute${minutes === 1 ? '' : 's'}`;
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    const body = { email: form.email.value, password: form.password.value };
    try {
      const res = await fetch('/console/api/signin', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
        credentials: 'same-origin',
      });
      if (res.ok) return location.replace(next);
      const data = await res.json().catch(() => ({}));
      if (res.status === 429 && typeof data.retry_after_ms === 'number') {
        error.textContent = `Too many sign-in attempts. Try again in ${wait(data.retry_after_ms)}.`;
      } else {
        error.textContent = data.message || 'Sign-in failed. Try again.';
      }
    } catch {
      error.textContent = 'Could not reach the server. Try again.';
    }
  });
})();
