// Sign-up, login (with the TOTP step when the account has MFA).

import * as api from '../api.js';
import { h, replace } from '../dom.js';

/**
 * A labelled input.
 * @param {string} label
 * @param {Record<string, any>} attrs
 */
function field(label, attrs) {
  const id = `field-${attrs.name}`;
  return h('p', { class: 'field' }, h('label', { for: id }, label), h('input', { id, ...attrs }));
}

/**
 * The login or sign-up screen.
 * @param {HTMLElement} root
 * @param {'login'|'signup'} mode
 * @param {(user: any) => void} done called with the user once logged in
 */
export function showAuth(root, mode, done) {
  const status = h('p', { class: 'form-error', role: 'alert' });
  const signingUp = mode === 'signup';
  const form = h(
    'form',
    { class: 'auth-form', 'aria-labelledby': 'auth-title' },
    h('h1', { id: 'auth-title' }, signingUp ? 'Create your account' : 'Log in to Confab'),
    field('E-mail address', { name: 'email', type: 'email', required: true, autocomplete: 'email' }),
    signingUp && field('Username', { name: 'username', required: true, autocomplete: 'username', minlength: 2, maxlength: 50 }),
    signingUp && field('Display name', { name: 'display_name', required: true, autocomplete: 'name' }),
    field('Password', {
      name: 'password',
      type: 'password',
      required: true,
      minlength: signingUp ? 8 : undefined,
      autocomplete: signingUp ? 'new-password' : 'current-password',
    }),
    status,
    h('button', { type: 'submit', class: 'primary' }, signingUp ? 'Sign up' : 'Log in'),
    h(
      'p',
      { class: 'switch' },
      signingUp ? 'Have an account? ' : 'New here? ',
      h('a', { href: signingUp ? '/login' : '/signup', 'data-route': '' }, signingUp ? 'Log in' : 'Create an account'),
    ),
    !signingUp && h('p', { class: 'switch' }, h('a', { href: '/reset-password', 'data-route': '' }, 'Forgot your password?')),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(form));
    status.textContent = '';
    try {
      if (signingUp) await api.post('/auth/signup', values);
      const answer = await api.post('/auth/login', { email: values.email, password: values.password });
      if (answer.mfa_required) {
        showCodeStep(root, answer.challenge_token, done);
      } else {
        done(answer.user);
      }
    } catch (error) {
      status.textContent = api.describe(error);
    }
  });
  replace(root, h('main', { class: 'auth' }, form));
  form.querySelector('input').focus();
}

function showCodeStep(root, challenge, done) {
  const status = h('p', { class: 'form-error', role: 'alert' });
  const form = h(
    'form',
    { class: 'auth-form' },
    h('h1', {}, 'Two-factor code'),
    field('The 6-digit code from your authenticator app', {
      name: 'code',
      inputmode: 'numeric',
      autocomplete: 'one-time-code',
      required: true,
      pattern: '[0-9]{6}',
    }),
    status,
    h('button', { type: 'submit', class: 'primary' }, 'Continue'),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const code = new FormData(form).get('code');
      const answer = await api.post('/auth/login/mfa', { challenge_token: challenge, code });
      done(answer.user);
    } catch (error) {
      status.textContent = api.describe(error);
    }
  });
  replace(root, h('main', { class: 'auth' }, form));
  form.querySelector('input').focus();
}

/**
 * `/reset-password`: ask for a link by e-mail, or, with `?token=…` (a
 * mailed link, or one an operator made), choose the new password.
 * @param {HTMLElement} root
 */
export function showPasswordReset(root) {
  const token = new URLSearchParams(location.search).get('token');
  // The token leaves the address bar (and the history) at once.
  if (token) history.replaceState(null, '', '/reset-password');
  const status = h('p', { class: 'form-error', role: 'alert' });
  const done = h('p', { role: 'status' });
  const form = token
    ? h(
        'form',
        { class: 'auth-form', 'aria-labelledby': 'auth-title' },
        h('h1', { id: 'auth-title' }, 'Choose a new password'),
        field('New password', { name: 'password', type: 'password', required: true, minlength: 8, autocomplete: 'new-password' }),
        h('p', { class: 'hint' }, 'At least 8 characters. You will be logged out everywhere.'),
        status,
        done,
        h('button', { type: 'submit', class: 'primary' }, 'Set the password'),
      )
    : h(
        'form',
        { class: 'auth-form', 'aria-labelledby': 'auth-title' },
        h('h1', { id: 'auth-title' }, 'Reset your password'),
        h('p', {}, 'We will mail a link to set a new password to the address of your account.'),
        field('E-mail address', { name: 'email', type: 'email', required: true, autocomplete: 'email' }),
        status,
        done,
        h('button', { type: 'submit', class: 'primary' }, 'Mail me a link'),
        h('p', { class: 'switch' }, h('a', { href: '/login', 'data-route': '' }, 'Back to log in')),
      );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(form));
    status.textContent = '';
    try {
      if (token) {
        const user = await api.post('/auth/password-reset', { token, password: values.password });
        replace(
          form,
          h('h1', { id: 'auth-title' }, 'Password set'),
          h('p', { role: 'status' }, `The password of @${user.username} is set. Log in with it.`),
          h('p', { class: 'switch' }, h('a', { href: '/login', 'data-route': '' }, 'Log in')),
        );
      } else {
        await api.post('/auth/password-reset/request', { email: values.email });
        done.textContent = `If an account has ${values.email}, a link is on its way. It works once, for an hour.`;
        form.querySelector('button[type=submit]')?.setAttribute('disabled', '');
      }
    } catch (error) {
      status.textContent = error instanceof api.ApiError && error.status === 404
        ? 'This link is unknown, used or expired. Ask for a new one.'
        : api.describe(error);
    }
  });
  replace(root, h('main', { class: 'auth' }, form));
  form.querySelector('input')?.focus();
}
