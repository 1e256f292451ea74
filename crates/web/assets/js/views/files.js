// Files in the chat: uploads from the attach button, drag-and-drop and
// paste, each with its progress; attachments drawn in messages (images as
// their thumbnails); the files of a channel; and the gateway's file events.

import * as api from '../api.js';
import { h, replace } from '../dom.js';
import { shortTime, dayLabel } from '../time.js';

/** Files one message carries at most (as the server allows). */
export const MAX_FILES_PER_MESSAGE = 10;

/**
 * A size for people: "820 B", "14.2 KB", "3.1 MB".
 * @param {number} bytes
 * @returns {string}
 */
export function humanSize(bytes) {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** The thumbnail to show inline: the largest one made. */
function preview(file) {
  const thumbnails = file.thumbnails || [];
  return thumbnails.length ? thumbnails[thumbnails.length - 1] : null;
}

/** Methods mixed into the workspace view (`this` is the view). */
export const fileMethods = {
  /** The attach button, its hidden picker and the tray of uploads. */
  makeAttachments() {
    /** @type {Array<{key: string, name: string, size: number, share: number, file: any, error: string|null, abort: () => void}>} */
    this.uploads = [];
    const picker = h('input', {
      type: 'file',
      multiple: true,
      class: 'file-picker',
      tabindex: '-1',
      'aria-hidden': 'true',
    });
    picker.addEventListener('change', () => {
      this.attachFiles([...picker.files]);
      picker.value = '';
    });
    const button = h(
      'button',
      { type: 'button', class: 'attach', title: 'Attach files', 'aria-label': 'Attach files', onclick: () => picker.click() },
      '+',
    );
    this.tray = h('ul', { class: 'uploads', 'aria-label': 'Files to send', hidden: true });
    return { picker, button };
  },

  /** Drop files anywhere on the channel to attach them. */
  acceptDrops(area) {
    const carriesFiles = (event) => [...(event.dataTransfer?.types || [])].includes('Files');
    area.addEventListener('dragover', (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      area.classList.add('dropping');
    });
    area.addEventListener('dragleave', (event) => {
      if (!area.contains(event.relatedTarget)) area.classList.remove('dropping');
    });
    area.addEventListener('drop', (event) => {
      area.classList.remove('dropping');
      if (!event.dataTransfer || event.dataTransfer.files.length === 0) return;
      event.preventDefault();
      this.attachFiles([...event.dataTransfer.files]);
    });
  },

  /** Pasted files (a screenshot) are attached; pasted text is typed. */
  acceptPastes(box) {
    box.addEventListener('paste', (event) => {
      const files = [...(event.clipboardData?.files || [])];
      if (files.length === 0) return;
      event.preventDefault();
      this.attachFiles(files);
    });
  },

  /**
   * Start uploading `files` to the workspace; each shows in the tray with
   * its progress and goes with the next message sent.
   * @param {File[]} files
   */
  attachFiles(files) {
    const room = MAX_FILES_PER_MESSAGE - this.uploads.length;
    if (files.length > room) this.notice(`A message carries at most ${MAX_FILES_PER_MESSAGE} files.`);
    for (const file of files.slice(0, Math.max(room, 0))) {
      const entry = {
        key: crypto.randomUUID(),
        name: file.name || 'pasted file',
        size: file.size,
        share: 0,
        file: null,
        error: null,
        abort: () => {},
      };
      const sending = api.upload(`/workspaces/${this.workspaceId}/files`, file, entry.name, (share) => {
        entry.share = share;
        const bar = this.tray.querySelector(`[data-key="${entry.key}"] progress`);
        if (bar) bar.value = share;
      });
      entry.abort = sending.abort;
      this.uploads.push(entry);
      sending.done.then(
        (stored) => {
          entry.file = stored;
          this.drawUploads();
        },
        (error) => {
          entry.error = api.describe(error);
          this.drawUploads();
        },
      );
    }
    this.drawUploads();
  },

  drawUploads() {
    this.tray.hidden = this.uploads.length === 0;
    replace(
      this.tray,
      ...this.uploads.map((entry) =>
        h(
          'li',
          { class: `upload${entry.error ? ' upload-failed' : ''}`, 'data-key': entry.key },
          h('span', { class: 'upload-name' }, entry.name),
          h('span', { class: 'upload-size' }, humanSize(entry.size)),
          entry.error
            ? h('span', { class: 'upload-error', role: 'alert' }, entry.error)
            : entry.file
              ? h('span', { class: 'upload-ready' }, 'Ready')
              : h('progress', { max: 1, value: entry.share, 'aria-label': `Uploading ${entry.name}` }),
          h(
            'button',
            { type: 'button', class: 'remove-upload', 'aria-label': `Remove ${entry.name}`, onclick: () => this.dropUpload(entry.key) },
            '×',
          ),
        ),
      ),
    );
  },

  /** Take a file out of the tray, stopping its upload if it is running. */
  dropUpload(key) {
    const entry = this.uploads.find((u) => u.key === key);
    if (entry && !entry.file && !entry.error) entry.abort();
    this.uploads = this.uploads.filter((u) => u.key !== key);
    this.drawUploads();
  },

  /** Whether an upload is still running. */
  uploading() {
    return this.uploads.some((u) => !u.file && !u.error);
  },

  /** The uploaded files of the tray, taken out of it to be sent. */
  takeUploads() {
    const ready = this.uploads.filter((u) => u.file).map((u) => u.file);
    this.uploads = this.uploads.filter((u) => !u.file);
    this.drawUploads();
    return ready;
  },

  /** What a message's files look like, for redrawing only on change. */
  fileLooks(message) {
    return (message.files || []).map((f) => [f.id, f.processing_status, (f.thumbnails || []).length]);
  },

  /** The files a message carries: images as thumbnails, others as cards. */
  attachments(message) {
    const files = message.files || [];
    if (files.length === 0) return null;
    return h('ul', { class: 'attachments', 'aria-label': 'Files' }, ...files.map((file) => h('li', {}, this.attachment(file))));
  },

  attachment(file) {
    const shown = preview(file);
    const size = humanSize(file.size);
    if (shown) {
      return h(
        'figure',
        { class: 'image-file', 'data-file': file.id },
        h(
          'a',
          { href: file.url_private, target: '_blank', rel: 'noopener', 'aria-label': `Open ${file.name} (${size})` },
          h('img', { src: shown.url, width: shown.width, height: shown.height, alt: file.name, loading: 'lazy' }),
        ),
        h('figcaption', {}, file.name, ' ', h('span', { class: 'file-size' }, size)),
      );
    }
    const preparing =
      file.mime_type.startsWith('image/') && (file.processing_status === 'pending' || file.processing_status === 'processing');
    return h(
      'div',
      { class: 'file-card', 'data-file': file.id },
      h('span', { class: 'file-type', 'aria-hidden': 'true' }, (file.name.split('.').pop() || 'file').slice(0, 4).toUpperCase()),
      h('a', { href: file.url_private, download: file.name }, file.name),
      h('span', { class: 'file-size' }, size),
      preparing && h('span', { class: 'file-status' }, 'Preparing a preview…'),
    );
  },

  /**
   * Apply a file event to the loaded messages; whether it was one.
   * @param {any} event
   */
  applyFileEvent(event) {
    let changed = false;
    const each = (update) => {
      const replies = this.thread ? [...this.thread.replies.values()] : [];
      for (const message of [...this.messages.values(), ...replies]) {
        const files = message.files || [];
        const next = update(files, message);
        if (next !== files) {
          message.files = next;
          changed = true;
        }
      }
    };
    switch (event.type) {
      case 'file_shared':
        each((files, message) => {
          if (message.id !== event.message_id) return files;
          return [...files.filter((f) => f.id !== event.file.id), event.file];
        });
        break;
      case 'file_processed':
        each((files) => (files.some((f) => f.id === event.file.id) ? files.map((f) => (f.id === event.file.id ? event.file : f)) : files));
        break;
      case 'file_deleted':
        each((files) => (files.some((f) => f.id === event.file_id) ? files.filter((f) => f.id !== event.file_id) : files));
        break;
      default:
        return false;
    }
    if (changed) {
      this.draw();
      this.drawThread();
    }
    return true;
  },

  /** The files shared in the open channel, under its header. */
  async showFiles(cursor = null) {
    const query = `channel=${this.channelId}&limit=30${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    let page;
    try {
      page = await api.get(`/workspaces/${this.workspaceId}/files?${query}`);
    } catch (error) {
      this.notice(api.describe(error));
      return;
    }
    let panel = this.header.querySelector('.channel-files');
    if (!cursor || !panel) {
      panel?.remove();
      panel = h(
        'div',
        { class: 'channel-files', role: 'region', 'aria-label': 'Files in this channel' },
        h(
          'h2',
          {},
          'Files ',
          h('button', { type: 'button', class: 'close-files', 'aria-label': 'Close the files', onclick: () => panel.remove() }, '×'),
        ),
        h('ul', { class: 'file-list' }),
      );
      this.header.appendChild(panel);
    }
    const list = panel.querySelector('.file-list');
    panel.querySelector('.more-files')?.remove();
    panel.querySelector('.no-files')?.remove();
    if (page.files.length === 0 && !cursor) panel.appendChild(h('p', { class: 'no-files' }, 'No files were shared in this channel.'));
    for (const file of page.files) {
      const small = (file.thumbnails || [])[0];
      list.appendChild(
        h(
          'li',
          { 'data-file': file.id },
          small ? h('img', { src: small.url, width: small.width, height: small.height, alt: '' }) : h('span', { class: 'file-type', 'aria-hidden': 'true' }, (file.name.split('.').pop() || '').slice(0, 4).toUpperCase()),
          h('a', { href: file.url_private, download: file.name }, file.name),
          h(
            'span',
            { class: 'file-meta' },
            `${humanSize(file.size)} · ${this.names.get(file.uploader_id) || 'Someone'} · ${dayLabel(file.created_at)} ${shortTime(file.created_at)}`,
          ),
        ),
      );
    }
    if (page.next_cursor) {
      panel.appendChild(
        h('button', { type: 'button', class: 'more-files', onclick: () => this.showFiles(page.next_cursor) }, 'More files'),
      );
    }
  },
};
