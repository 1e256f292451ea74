// Files: uploads (button, drop, paste) with progress, attachments in
// messages, a channel's files, and the file events.

import * as api from '../api.js';
import { h, replace } from '../dom.js';
import { shortTime, dayLabel } from '../time.js';

/** As the server allows. */
const MAX_FILES_PER_MESSAGE = 10;

/** A size for people: "820 B", "14.2 KB", "3.1 MB". */
export function humanSize(bytes) {
  const unit = Math.min(Math.floor(Math.log2(Math.max(bytes, 1)) / 10), 4);
  const value = bytes / 1024 ** unit;
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${'BKMGT'[unit]}B`;
}

const typeBadge = (file) =>
  h('span', { class: 'file-type', 'aria-hidden': 'true' }, (file.name.split('.').pop() || '').slice(0, 4).toUpperCase());

/** Methods mixed into the workspace view (`this` is the view). */
export const fileMethods = {
  makeAttachments() {
    /** Each: key, name, size, share sent, the stored file or the error, abort. */
    this.uploads = [];
    const picker = h('input', { type: 'file', multiple: true, class: 'file-picker', tabindex: '-1', 'aria-hidden': 'true' });
    picker.addEventListener('change', () => {
      this.attachFiles([...picker.files]);
      picker.value = '';
    });
    const button = h('button', { type: 'button', class: 'attach', title: 'Attach files', 'aria-label': 'Attach files', onclick: () => picker.click() }, '+');
    this.tray = h('ul', { class: 'uploads', 'aria-label': 'Files to send', hidden: true });
    return { picker, button };
  },

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

  /** Upload `files`; each shows in the tray and goes with the next message. */
  attachFiles(files) {
    const room = Math.max(MAX_FILES_PER_MESSAGE - this.uploads.length, 0);
    if (files.length > room) this.notice(`A message carries at most ${MAX_FILES_PER_MESSAGE} files.`);
    for (const file of files.slice(0, room)) {
      const entry = { key: crypto.randomUUID(), name: file.name || 'pasted file', size: file.size, share: 0 };
      const sending = api.upload(`/workspaces/${this.workspaceId}/files`, file, entry.name, (share) => {
        entry.share = share;
        const bar = this.tray.querySelector(`[data-key="${entry.key}"] progress`);
        if (bar) bar.value = share;
      });
      entry.abort = sending.abort;
      this.uploads.push(entry);
      sending.done
        .then((stored) => (entry.file = stored))
        .catch((error) => (entry.error = api.describe(error)))
        .finally(() => this.drawUploads());
    }
    this.drawUploads();
  },

  drawUploads() {
    this.tray.hidden = this.uploads.length === 0;
    replace(
      this.tray,
      ...this.uploads.map((u) =>
        h(
          'li',
          { class: `upload${u.error ? ' upload-failed' : ''}`, 'data-key': u.key },
          h('span', { class: 'upload-name' }, u.name),
          humanSize(u.size),
          u.error
            ? h('span', { class: 'upload-error', role: 'alert' }, u.error)
            : u.file
              ? h('span', { class: 'upload-ready' }, 'Ready')
              : h('progress', { max: 1, value: u.share, 'aria-label': `Uploading ${u.name}` }),
          h('button', { type: 'button', class: 'remove-upload', 'aria-label': `Remove ${u.name}`, onclick: () => this.dropUpload(u.key) }, '×'),
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

  /** Images as thumbnails, other files as cards. */
  attachments(message) {
    const files = message.files || [];
    if (files.length === 0) return null;
    return h('ul', { class: 'attachments', 'aria-label': 'Files' }, ...files.map((file) => h('li', {}, this.attachment(file))));
  },

  attachment(file) {
    // The largest thumbnail made.
    const shown = (file.thumbnails || []).slice(-1)[0];
    const size = humanSize(file.size);
    if (shown) {
      const img = h('img', { src: shown.url, width: shown.width, height: shown.height, alt: file.name, loading: 'lazy' });
      return h(
        'figure',
        { class: 'image-file', 'data-file': file.id },
        h('a', { href: file.url_private, target: '_blank', rel: 'noopener', 'aria-label': `Open ${file.name} (${size})` }, img),
        h('figcaption', {}, file.name, ' ', h('span', { class: 'file-size' }, size)),
      );
    }
    const preparing =
      file.mime_type.startsWith('image/') && (file.processing_status === 'pending' || file.processing_status === 'processing');
    return h(
      'div',
      { class: 'file-card', 'data-file': file.id },
      typeBadge(file),
      h('a', { href: file.url_private, download: file.name }, file.name),
      h('span', { class: 'file-size' }, size),
      preparing && h('span', { class: 'file-status' }, 'Preparing a preview…'),
    );
  },

  /** Apply a file event to the loaded messages; whether it was one. */
  applyFileEvent(event) {
    if (!event.type.startsWith('file_')) return false;
    const id = event.file ? event.file.id : event.file_id;
    const replies = this.thread ? [...this.thread.replies.values()] : [];
    let changed = false;
    for (const message of [...this.messages.values(), ...replies]) {
      const files = message.files || [];
      const others = files.filter((f) => f.id !== id);
      const shared = event.type === 'file_shared' && message.id === event.message_id;
      if (others.length === files.length && !shared) continue;
      // Shared or processed: the file as it is now; deleted: gone.
      message.files = event.type === 'file_deleted' ? others : files.length > others.length ? files.map((f) => (f.id === id ? event.file : f)) : [...files, event.file];
      changed = true;
    }
    if (changed) {
      this.draw();
      this.drawThread();
    }
    return true;
  },

  /** The files shared in the open channel, under its header. */
  async showFiles(cursor = null) {
    const more = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    const page = await api.get(`/workspaces/${this.workspaceId}/files?channel=${this.channelId}&limit=30${more}`).catch((error) => {
      this.notice(api.describe(error));
    });
    if (!page) return;
    let panel = this.header.querySelector('.channel-files');
    if (!cursor || !panel) {
      panel?.remove();
      panel = h(
        'div',
        { class: 'channel-files', role: 'region', 'aria-label': 'Files in this channel' },
        h('h2', {}, 'Files ', h('button', { type: 'button', class: 'close-files', 'aria-label': 'Close the files', onclick: () => panel.remove() }, '×')),
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
          small ? h('img', { src: small.url, width: small.width, height: small.height, alt: '' }) : typeBadge(file),
          h('a', { href: file.url_private, download: file.name }, file.name),
          h(
            'span',
            { class: 'file-meta' },
            `${humanSize(file.size)} · ${this.names.get(file.uploader_id) || 'Someone'} · ${dayLabel(file.created_at)} ${shortTime(file.created_at)}`,
          ),
        ),
      );
    }
    if (page.next_cursor) panel.appendChild(h('button', { type: 'button', class: 'more-files', onclick: () => this.showFiles(page.next_cursor) }, 'More files'));
  },
};
