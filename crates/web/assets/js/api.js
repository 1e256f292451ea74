// The REST API of this server, over fetch with the session cookie.

/** An error answer of the API: its status and Confab's error body. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {{code?: string, message?: string, field?: string}} error
   * @param {number|null} retryAfter seconds, for 429
   */
  constructor(status, error, retryAfter) {
    super(error.message || `request failed (${status})`);
    this.status = status;
    this.code = error.code || 'error';
    this.field = error.field || null;
    this.retryAfter = retryAfter;
  }
}

/**
 * Call `/api/v1{path}`.
 * @param {string} method
 * @param {string} path
 * @param {object} [body]
 * @returns {Promise<any>} the JSON answer (null when empty)
 */
export async function call(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(`/api/v1${path}`, init);
  } catch {
    throw new ApiError(0, { code: 'offline', message: 'The server cannot be reached.' }, null);
  }
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const retry = Number(response.headers.get('Retry-After')) || null;
    throw new ApiError(response.status, (data && data.error) || {}, retry);
  }
  return data;
}

/**
 * Send a file to `/api/v1{path}` as the form part `file`, telling
 * `onProgress` the share sent (XMLHttpRequest: fetch reports no upload
 * progress). The answer in `done`, and a way to stop.
 */
export function upload(path, file, name, onProgress) {
  const xhr = new XMLHttpRequest();
  const done = new Promise((resolve, reject) => {
    xhr.open('POST', `/api/v1${path}`);
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener('load', () => {
      let data = null;
      try {
        data = JSON.parse(xhr.responseText);
      } catch {
        // Not JSON: the status alone speaks.
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(new ApiError(xhr.status, (data && data.error) || {}, Number(xhr.getResponseHeader('Retry-After')) || null));
    });
    xhr.addEventListener('error', () =>
      reject(new ApiError(0, { code: 'offline', message: 'The server cannot be reached.' }, null)),
    );
    xhr.addEventListener('abort', () => reject(new ApiError(0, { code: 'aborted', message: 'Cancelled.' }, null)));
    const form = new FormData();
    form.append('file', file, name);
    xhr.send(form);
  });
  return { done, abort: () => xhr.abort() };
}

export const get = (path) => call('GET', path);
export const post = (path, body = {}) => call('POST', path, body);
export const patch = (path, body) => call('PATCH', path, body);
export const put = (path, body) => call('PUT', path, body);
export const del = (path) => call('DELETE', path);

/**
 * A message for people from an API error.
 * @param {unknown} error
 * @returns {string}
 */
export function describe(error) {
  if (error instanceof ApiError) {
    if (error.status === 429) {
      const wait = error.retryAfter ? ` Try again in ${error.retryAfter} s.` : '';
      return `Slow down: too many requests.${wait}`;
    }
    return error.message;
  }
  return String(error);
}
