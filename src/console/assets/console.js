'use strict';
// Shared by every console page: sign-out buttons, and times shown in the reader's own zone.
(function () {
  const meta = document.querySelector('meta[name="csrf-token"]');

  for (const button of document.querySelectorAll('[data-signout]')) {
    button.addEventListener('click', async () => {
      button.disabled = true;
      await fetch('/console/api/signout', {
        method: 'POST',
        headers: { 'X-CSRF-Token': meta ? meta.content : '' },
        credentials: 'same-origin',
      }).catch(() => undefined);
      location.replace(button.dataset.signout || '/');
    });
  }

  const format = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  window.tesseraTime = (iso) => {
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? iso : format.format(d);
  };
  for (const t of document.querySelectorAll('time[datetime]')) t.textContent = window.tesseraTime(t.getAttribute('datetime'));

  // A code's time left, as m:ss in `el`, once a second; calls onExpired at zero. Returns stop().
  window.tesseraCountdown = (el, seconds, onExpired) => {
    const deadline = Date.now() + Number(seconds) * 1000;
    const tick = () => {
      const s = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      el.textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
      if (s === 0) {
        clearInterval(timer);
        onExpired();
      }
    };
    const timer = setInterval(tick, 1000);
    tick();
    return () => clearInterval(timer);
  };
})();
