'use strict';
// The account page: sign devices out, create and revoke API keys, through /console/api.
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const status = document.getElementById('account-status');

  const say = (text, bad) => {
    status.textContent = text;
    status.classList.toggle('bad', !!bad);
    status.hidden = false;
  };

  const call = async (method, path, body) => {
    const res = await fetch(path, {
      method,
      headers: { 'X-CSRF-Token': csrf, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      credentials: 'same-origin',
    });
    if (res.status === 401) {
      location.replace('/signin?next=/account');
      throw new Error('signed out');
    }
    const data = res.status === 204 ? {} : await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(data.message || `The server answered ${res.status}.`);
    return data;
  };

  const syncEmpty = (listId) => {
    const empty = document.getElementById(`${listId}-empty`);
    empty.hidden = document.getElementById(listId).children.length > 0;
  };

  // Devices
  const devices = document.getElementById('devices');
  const everywhere = document.getElementById('signout-everywhere');
  devices.addEventListener('click', async (event) => {
    const button = event.target.closest('[data-revoke-device]');
    if (!button) return;
    button.disabled = true;
    try {
      await call('DELETE', `/console/api/devices/${button.dataset.revokeDevice}`);
      button.closest('li').remove();
      syncEmpty('devices');
      say('The device is signed out. Its token no longer works.');
    } catch (err) {
      button.disabled = false;
      say(err.message, true);
    }
  });
  // Other browsers signed in to the account are signed out too; this one stays signed in.
  const count = (n, one, many) => `${n} ${n === 1 ? one : many}`;
  everywhere.addEventListener('click', async () => {
    everywhere.disabled = true;
    try {
      const { revoked, browsers_signed_out: browsers } = await call('DELETE', '/console/api/devices');
      devices.replaceChildren();
      syncEmpty('devices');
      say(`Signed out everywhere: ${count(revoked, 'device', 'devices')} and ${count(browsers, 'other browser', 'other browsers')}. This browser is still signed in.`);
    } catch (err) {
      say(err.message, true);
    } finally {
      everywhere.disabled = false;
    }
  });

  // API keys
  const keys = document.getElementById('api-keys');
  keys.addEventListener('click', async (event) => {
    const button = event.target.closest('[data-revoke-key]');
    if (!button) return;
    button.disabled = true;
    try {
      await call('DELETE', `/console/api/api-keys/${button.dataset.revokeKey}`);
      button.closest('li').remove();
      syncEmpty('api-keys');
      say('The API key is revoked. It no longer works.');
    } catch (err) {
      button.disabled = false;
      say(err.message, true);
    }
  });

  const keyRow = (k) => {
    const li = document.createElement('li');
    li.className = 'item';
    li.dataset.id = k.id;
    const main = document.createElement('div');
    main.className = 'item-main';
    const title = document.createElement('div');
    title.className = 'item-title';
    title.textContent = k.name;
    const meta = document.createElement('div');
    meta.className = 'item-meta';
    const expiry = k.expires_at ? `expires ${window.tesseraTime(k.expires_at)}` : 'does not expire';
    meta.textContent = `${k.scopes.join(', ')} · created just now · last used never · ${expiry}`;
    main.append(title, meta);
    const revoke = document.createElement('button');
    revoke.type = 'button';
    revoke.className = 'danger small';
    revoke.dataset.revokeKey = k.id;
    revoke.textContent = 'Revoke';
    li.append(main, revoke);
    return li;
  };

  const form = document.getElementById('create-key');
  const formError = document.getElementById('create-key-error');
  const created = document.getElementById('new-key');
  const createdValue = document.getElementById('new-key-value');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    formError.textContent = '';
    const name = form.elements.name.value.trim();
    const scopes = [...form.querySelectorAll('input[name="scopes"]:checked')].map((c) => c.value);
    const days = form.elements.expires_in_days.value;
    if (!name) return void (formError.textContent = 'Give the key a name, so you know later what uses it.');
    if (scopes.length === 0) return void (formError.textContent = 'Choose at least one scope.');
    const submit = form.querySelector('button[type="submit"]');
    submit.disabled = true;
    try {
      const key = await call('POST', '/console/api/api-keys', { name, scopes, expires_in_days: days ? Number(days) : null });
      createdValue.textContent = key.key;
      created.hidden = false;
      keys.prepend(keyRow(key));
      syncEmpty('api-keys');
      form.reset();
      created.scrollIntoView({ block: 'nearest' });
    } catch (err) {
      formError.textContent = err.message;
    } finally {
      submit.disabled = false;
    }
  });

  document.getElementById('copy-key').addEventListener('click', async (event) => {
    const button = event.currentTarget;
    try {
      await navigator.clipboard.writeText(createdValue.textContent);
      button.textContent = 'Copied';
    } catch {
      // No clipboard access (e.g. plain http on a remote host): select the key for a manual copy.
      getSelection().selectAllChildren(createdValue);
      button.textContent = 'Press Ctrl+C to copy';
    }
  });
})();
