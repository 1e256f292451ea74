// The account page: profile, password, sessions, two-factor login, and
// the e-mail confirmation link.

import * as api from '../api.js';
import { h, replace } from '../dom.js';
import { setTimeZone, shortTime } from '../time.js';

/**
 * A labelled input.
 * @param {string} label
 * @param {Record<string, any>} attrs
 */
function field(label, attrs) {
  const id = `settings-${attrs.name}`;
  return h('p', { class: 'field' }, h('label', { for: id }, label), h('input', { id, ...attrs }));
}

/**
 * A form section that calls `submit` with its values and says how it went.
 * @param {string} title
 * @param {Node[]} fields
 * @param {string} action the button's label
 * @param {(values: Record<string, string>, form: HTMLFormElement) => Promise<string>} submit
 *   resolves to the message shown on success
 */
function section(title, fields, action, submit) {
  const status = h('p', { class: 'form-status', role: 'status' });
  const slug = title.toLowerCase().replace(/\W+/g, '-');
  const form = /** @type {HTMLFormElement} */ (
    h(
      'form',
      { class: `settings-section ${slug}`, 'aria-labelledby': `${slug}-title` },
      h('h2', { id: `${slug}-title` }, title),
      ...fields,
      h('button', { type: 'submit', class: 'primary' }, action),
      status,
    )
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    status.className = 'form-status';
    try {
      status.textContent = await submit(
        /** @type {Record<string, string>} */ (Object.fromEntries(new FormData(form))),
        form,
      );
    } catch (error) {
      status.className = 'form-status form-error';
      status.textContent = api.describe(error);
    }
  });
  return form;
}

/** The zones the browser knows, for the timezone list. */
function timeZones(current) {
  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  return zones.includes(current) ? zones : [current, ...zones];
}

function profileSection(user, onUser) {
  const zone = h(
    'select',
    { id: 'settings-timezone', name: 'timezone' },
    ...timeZones(user.timezone).map((z) => h('option', { value: z, selected: z === user.timezone }, z)),
  );
  return section(
    'Profile',
    [
      field('Display name', { name: 'display_name', required: true, maxlength: 100, value: user.display_name }),
      field('Title', { name: 'title', maxlength: 100, value: user.title || '' }),
      h('p', { class: 'field' }, h('label', { for: 'settings-timezone' }, 'Timezone'), zone),
      field('Avatar URL', { name: 'avatar_url', type: 'url', maxlength: 500, value: user.avatar_url || '' }),
    ],
    'Save profile',
    async (values) => {
      const saved = await api.patch('/me', {
        display_name: values.display_name,
        title: values.title || null,
        timezone: values.timezone,
        avatar_url: values.avatar_url || null,
      });
      onUser(saved);
      return 'Saved.';
    },
  );
}

function passwordSection() {
  return section(
    'Password',
    [
      field('Current password', { name: 'current_password', type: 'password', required: true, autocomplete: 'current-password' }),
      field('New password', { name: 'new_password', type: 'password', required: true, minlength: 8, autocomplete: 'new-password' }),
    ],
    'Change password',
    async (values, form) => {
      await api.post('/me/password', values);
      form.reset();
      return 'Changed. Your other sessions have ended.';
    },
  );
}

/** The sessions, each with a button that ends it. */
async function sessionsSection(onLoggedOut) {
  const list = h('ul', { class: 'session-list' });
  const box = h('section', { class: 'settings-section sessions', 'aria-labelledby': 'sessions-title' }, h('h2', { id: 'sessions-title' }, 'Where you are logged in'), list);
  const draw = async () => {
    const { sessions } = await api.get('/me/sessions');
    replace(
      list,
      ...sessions.map((s) =>
        h(
          'li',
          { 'data-session': s.id },
          h('span', { class: 'device' }, s.user_agent ? describeAgent(s.user_agent) : s.device_type),
          s.current && h('strong', { class: 'this-device' }, ' (this browser)'),
          h('span', { class: 'session-meta' }, ` ${s.ip_address || 'unknown address'} · active ${shortTime(s.last_activity)}`),
          h(
            'button',
            {
              type: 'button',
              class: 'revoke',
              'aria-label': s.current ? 'Log out here' : `Log out the session from ${describeAgent(s.user_agent || s.device_type)}`,
              onclick: async () => {
                await api.del(`/me/sessions/${s.id}`);
                if (s.current) onLoggedOut();
                else await draw();
              },
            },
            s.current ? 'Log out' : 'Revoke',
          ),
        ),
      ),
    );
  };
  await draw();
  return box;
}

/** `Chromium on Linux` and the like, from a User-Agent. */
function describeAgent(agent) {
  const browser = ['Firefox', 'Edg', 'Chrome', 'Safari'].find((b) => agent.includes(b)) || 'A program';
  const system = ['Android', 'iPhone', 'Windows', 'Mac OS', 'Linux'].find((s) => agent.includes(s));
  const name = { Edg: 'Edge', 'Mac OS': 'macOS' };
  return system ? `${name[browser] || browser} on ${name[system] || system}` : name[browser] || browser;
}

/** Turn two-factor login on (with a QR code to scan) or off. */
function mfaSection(user, onUser) {
  const box = h('section', { class: 'settings-section mfa', 'aria-labelledby': 'mfa-title' });
  const title = h('h2', { id: 'mfa-title' }, 'Two-factor login');
  const draw = () => {
    if (user.mfa_enabled) {
      replace(
        box,
        title,
        h('p', {}, 'On: logging in asks for a code from your authenticator app.'),
        section('Turn off', [field('A current code', { name: 'code', inputmode: 'numeric', required: true, pattern: '[0-9]{6}', autocomplete: 'one-time-code' })], 'Turn off two-factor login', async (values) => {
          await api.post('/me/mfa/disable', values);
          user = { ...user, mfa_enabled: false };
          onUser(user);
          draw();
          return '';
        }),
      );
      return;
    }
    const start = section('Set up', [field('Your password', { name: 'password', type: 'password', required: true, autocomplete: 'current-password' })], 'Set up two-factor login', async (values) => {
      const enrolled = await api.post('/me/mfa/enroll', values);
      await showEnrollment(enrolled);
      return '';
    });
    replace(box, title, h('p', {}, 'Off. Turn it on to ask for a code from an authenticator app at login.'), start);
  };
  const showEnrollment = async (enrolled) => {
    // Loaded when needed: most visits never draw a QR code.
    const { qrCanvas } = await import('../qr.js');
    const qr = qrCanvas(enrolled.otpauth_uri);
    qr.setAttribute('role', 'img');
    qr.setAttribute('aria-label', 'QR code of your two-factor secret');
    qr.classList.add('qr');
    const confirm = section('Confirm', [field('The 6-digit code the app shows', { name: 'code', inputmode: 'numeric', required: true, pattern: '[0-9]{6}', autocomplete: 'one-time-code' })], 'Turn on', async (values) => {
      await api.post('/me/mfa/confirm', values);
      user = { ...user, mfa_enabled: true };
      onUser(user);
      draw();
      return '';
    });
    replace(
      box,
      title,
      h('p', {}, 'Scan this code with your authenticator app, or type the key by hand.'),
      qr,
      h('p', {}, 'Key: ', h('code', { class: 'mfa-secret' }, enrolled.secret)),
      confirm,
    );
    confirm.querySelector('input').focus();
  };
  draw();
  return box;
}

function verificationNote(user) {
  if (user.email_verified) return h('p', { class: 'verified' }, `${user.email} is confirmed.`);
  const status = h('span', { role: 'status' });
  return h(
    'p',
    { class: 'unverified' },
    `${user.email} is not confirmed yet. `,
    h(
      'button',
      {
        type: 'button',
        onclick: async () => {
          try {
            await api.post('/me/email/verification');
            status.textContent = ' A link is on its way.';
          } catch (error) {
            status.textContent = ` ${api.describe(error)}`;
          }
        },
      },
      'Send the link again',
    ),
    status,
  );
}

/**
 * The account page.
 * @param {HTMLElement} root
 * @param {any} user
 * @param {(user: any) => void} onUser called with the user after a change
 * @param {(path: string) => void} navigate
 */
export async function showSettings(root, user, onUser, navigate) {
  const loggedOut = () => navigate('/login');
  const main = h(
    'main',
    { class: 'settings' },
    h('p', {}, h('a', { href: sessionStorage.getItem('confab.last-workspace') || '/', 'data-route': '' }, '← Back to chat')),
    h('h1', {}, 'Your account'),
    verificationNote(user),
    profileSection(user, (saved) => {
      setTimeZone(saved.timezone);
      onUser(saved);
    }),
    passwordSection(),
    mfaSection(user, onUser),
    await sessionsSection(loggedOut),
  );
  replace(root, main);
}

/**
 * Confirm the e-mail address of the link `/verify-email?token=…`.
 * @param {HTMLElement} root
 */
export async function showVerifyEmail(root) {
  const token = new URLSearchParams(location.search).get('token') || '';
  let message;
  try {
    const user = await api.post('/auth/verify-email', { token });
    message = `Thank you: ${user.email} is confirmed.`;
  } catch (error) {
    message = error instanceof api.ApiError && error.status === 404
      ? 'This link is unknown, used or expired. Ask for a new one from your account page.'
      : api.describe(error);
  }
  replace(
    root,
    h('main', { class: 'home' }, h('h1', {}, 'E-mail confirmation'), h('p', { role: 'status' }, message), h('a', { href: '/', 'data-route': '' }, 'Open Confab')),
  );
}
