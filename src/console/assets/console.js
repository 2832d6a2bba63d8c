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
  window.tesseraLocalTimes = (root) => {
    for (const t of root.querySelectorAll('time[datetime]')) {
      const d = new Date(t.getAttribute('datetime'));
      if (!Number.isNaN(d.getTime())) t.textContent = format.format(d);
    }
  };
  window.tesseraLocalTimes(document);
})();
