// Search: the box in the top bar, results in a side pane (messages or
// files, what was understood, the matches marked), a message result
// opening in its channel and a file result downloading.

import * as api from '../api.js';
import { h, replace } from '../dom.js';
import { shortTime } from '../time.js';

/**
 * The snippet's text with its matches in `mark` elements (text nodes
 * only: nothing is read as HTML).
 * @param {{text: string, highlights: number[][]}} snippet
 * @returns {Node[]}
 */
function marked(snippet) {
  const chars = Array.from(snippet.text);
  const nodes = [];
  let at = 0;
  for (const [start, end] of snippet.highlights) {
    if (start < at) continue;
    nodes.push(chars.slice(at, start).join(''));
    nodes.push(h('mark', {}, chars.slice(start, end).join('')));
    at = end;
  }
  nodes.push(chars.slice(at).join(''));
  return nodes;
}

/** Methods mixed into the workspace view (`this` is the view). */
export const searchMethods = {
  /**
   * Search for `text` (a new search), or the next page of the current one.
   * @param {string|null} text null for the next page
   */
  async runSearch(text) {
    const next = text === null;
    const kept = { sort: this.search?.sort || 'relevance', kind: this.search?.kind || 'messages' };
    const state = next ? this.search : { text, ...kept, results: [] };
    if (!state || !state.text.trim()) return;
    const cursor = next && state.next ? `&cursor=${encodeURIComponent(state.next)}` : '';
    const path = `/workspaces/${this.workspaceId}/search/${state.kind}?q=${encodeURIComponent(state.text)}&sort=${state.sort}&limit=20${cursor}`;
    try {
      const answer = await api.get(path);
      this.search = {
        ...state,
        results: [...state.results, ...answer.results],
        understood: answer.query.text,
        total: answer.total,
        exact: answer.total_is_exact,
        next: answer.next_cursor || null,
        error: null,
      };
    } catch (error) {
      this.search = { ...state, error: api.describe(error) };
    }
    this.drawSearch();
  },

  drawSearch() {
    if (!this.search) return;
    if (this.thread) this.closeThread();
    const s = this.search;
    const sort = h(
      'select',
      {
        class: 'search-sort',
        'aria-label': 'Order of results',
        onchange: (event) => {
          this.search = { ...this.search, sort: event.target.value };
          this.runSearch(this.search.text);
        },
      },
      h('option', { value: 'relevance', selected: s.sort === 'relevance' }, 'Best match'),
      h('option', { value: 'newest', selected: s.sort === 'newest' }, 'Newest'),
    );
    const count = s.total === 1 ? '1 result' : `${s.exact ? '' : 'more than '}${s.total ?? 0} results`;
    const tab = (kind, label) =>
      h('button', {
        type: 'button',
        role: 'tab',
        'aria-selected': String(s.kind === kind),
        onclick: () => {
          this.search = { ...this.search, kind };
          this.runSearch(this.search.text);
        },
      }, label);
    const tabs = h('div', { class: 'search-tabs', role: 'tablist', 'aria-label': 'What to search' }, tab('messages', 'Messages'), tab('files', 'Files'));
    const results = h(
      'ol',
      { class: 'search-results', 'aria-label': 'Results' },
      ...s.results.map((r) => r.file ? this.foundFile(r) : h(
          'li',
          { class: 'search-result', 'data-id': r.message.id },
          h(
            'button',
            { type: 'button', class: 'open-result', onclick: () => this.openFound(r) },
            h(
              'span',
              { class: 'result-meta' },
              h('span', { class: 'result-channel' }, this.placeOf(r.channel)),
              ' · ',
              h('span', { class: 'author' }, r.author ? r.author.display_name : 'Someone'),
              ' · ',
              h('time', { datetime: r.message.created_at }, shortTime(r.message.created_at)),
            ),
            r.parent && h('span', { class: 'result-parent' }, `In a thread: ${r.parent.content.slice(0, 80)}`),
            h('span', { class: 'result-text' }, ...(r.snippet ? marked(r.snippet) : [r.message.content])),
          ),
        )),
    );
    this.searchPane = this.searchPane || h('aside', { class: 'thread search-pane', 'aria-label': 'Search results' });
    replace(
      this.searchPane,
      h(
        'header',
        {},
        h('h2', {}, 'Search'),
        sort,
        h('button', { type: 'button', class: 'close-search', 'aria-label': 'Close the search', onclick: () => this.closeSearch() }, '×'),
      ),
      tabs,
      h(
        'div',
        { class: 'search-body' },
        s.error
          ? h('p', { class: 'form-error', role: 'alert' }, s.error)
          : h('p', { class: 'search-summary', role: 'status' }, `${count} for `, h('code', {}, s.understood || s.text)),
        results,
        s.next && h('button', { type: 'button', class: 'more-results', onclick: () => this.runSearch(null) }, 'More results'),
      ),
    );
    const shell = this.root.querySelector('.shell');
    if (!shell.contains(this.searchPane)) shell.appendChild(this.searchPane);
    shell.classList.add('with-thread');
  },

  /** A file found: its name (a download), who shared it, when, and the
   * words that matched. */
  foundFile(r) {
    return h(
      'li',
      { class: 'search-result file-result', 'data-id': r.file.id },
      h('a', { class: 'open-result', href: r.file.url_private, download: r.file.name },
        h('span', { class: 'result-meta' },
          h('span', { class: 'file-name' }, r.file.name),
          ' · ',
          h('span', { class: 'author' }, r.uploader ? r.uploader.display_name : 'Someone'),
          ' · ',
          h('time', { datetime: r.file.created_at }, shortTime(r.file.created_at))),
        r.snippet && h('span', { class: 'result-text' }, ...marked(r.snippet))),
    );
  },

  /** How a result names its place: `#name`, or the people. */
  placeOf(channel) {
    const known = this.channels.find((c) => c.id === channel.id);
    if (channel.channel_type === 'public' || channel.channel_type === 'private') return `#${channel.name}`;
    return known ? this.conversationLabel(known) : 'a conversation';
  },

  closeSearch() {
    this.search = null;
    this.searchPane?.remove();
    this.searchPane = null;
    if (!this.thread) this.root.querySelector('.shell')?.classList.remove('with-thread');
    this.searchBox.value = '';
  },

  /** The message of a result, in its channel, among its neighbours. */
  async openFound(result) {
    const channel = result.channel.id;
    if (!this.channels.some((c) => c.id === channel)) await this.reloadChannels();
    history.pushState(null, '', `/w/${this.workspaceId}/c/${channel}`);
    await this.showChannel(channel, result.parent ? result.parent.id : result.message.id);
    if (result.parent) await this.openThread(result.parent.id);
  },
};
