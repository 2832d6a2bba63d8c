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
})();
