// Start-up and routing: the path decides the view; links marked
// `data-route` move without reloading.

import * as api from './api.js';
import { h, replace } from './dom.js';
import { showAuth, showPasswordReset } from './views/auth.js';
import { showSettings, showVerifyEmail } from './views/settings.js';
import { setTimeZone } from './time.js';
import { closeWorkspace, showHome, showWorkspace } from './views/workspace.js';

const root = /** @type {HTMLElement} */ (document.getElementById('app'));
/** @type {any} the logged-in user, or null */
let user = null;

/**
 * Go to `path` in the client.
 * @param {string} path
 */
export function navigate(path) {
  if (location.pathname !== path) history.pushState(null, '', path);
  route().catch(showError);
}

async function route() {
  const path = location.pathname;
  if (path === '/login' || path === '/signup') {
    closeWorkspace();
    user = null;
    showAuth(root, path === '/signup' ? 'signup' : 'login', (signedIn) => {
      user = signedIn;
      setTimeZone(user.timezone);
      navigate(sessionStorage.getItem('confab.after-login') || '/');
      sessionStorage.removeItem('confab.after-login');
    });
    return;
  }
  if (path === '/reset-password') {
    closeWorkspace();
    user = null;
    showPasswordReset(root);
    return;
  }
  if (path === '/verify-email') {
    closeWorkspace();
    await showVerifyEmail(root);
    return;
  }
  if (!user) {
    try {
      user = await api.get('/me');
      setTimeZone(user.timezone);
    } catch (error) {
      if (error instanceof api.ApiError && error.status === 401) {
        sessionStorage.setItem('confab.after-login', path);
        navigate('/login');
        return;
      }
      throw error;
    }
  }
  const invite = path.match(/^\/invite\/([^/]+)$/);
  if (invite) {
    const joined = await api.post('/invitations/accept', { token: decodeURIComponent(invite[1]) });
    navigate(`/w/${joined.membership.workspace_id}`);
    return;
  }
  if (path === '/settings') {
    closeWorkspace();
    await showSettings(root, user, (changed) => {
      user = changed;
    }, navigate);
    return;
  }
  // /w/{workspace}[/c/{channel}[/t/{thread} | /m/{message}]]: a message
  // link (a permalink) opens its channel around the message.
  const inWorkspace = path.match(/^\/w\/([^/]+)(?:\/c\/([^/]+)(?:\/t\/([^/]+)|\/m\/([^/]+))?)?/);
  if (inWorkspace) {
    sessionStorage.setItem('confab.last-workspace', path);
    await showWorkspace(root, user, inWorkspace[1], inWorkspace[2] || null, inWorkspace[3] || null, navigate, inWorkspace[4] || null);
    return;
  }
  closeWorkspace();
  await showHome(root, navigate);
}

function showError(error) {
  replace(
    root,
    h(
      'main',
      { class: 'home' },
      h('h1', {}, 'Something went wrong'),
      h('p', { role: 'alert' }, api.describe(error)),
      h('a', { href: '/', 'data-route': '' }, 'Back to your workspaces'),
    ),
  );
}

document.addEventListener('click', (event) => {
  const link = /** @type {Element} */ (event.target).closest('a[data-route]');
  if (!link || event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  navigate(link.getAttribute('href'));
});
window.addEventListener('popstate', () => route().catch(showError));
route().catch(showError);
