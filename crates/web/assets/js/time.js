// Times as people read them, in their own timezone.

/**
 * `14:05` for today, else a short date and time.
 * @param {string} iso
 * @param {Date} [now]
 * @returns {string}
 */
export function shortTime(iso, now = new Date()) {
  const at = new Date(iso);
  const sameDay = at.toDateString() === now.toDateString();
  const time = at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return sameDay ? time : `${at.toLocaleDateString([], { month: 'short', day: 'numeric' })} ${time}`;
}

/**
 * `Today`, `Yesterday` or a full date: the label of a day separator.
 * @param {string} iso
 * @param {Date} [now]
 * @returns {string}
 */
export function dayLabel(iso, now = new Date()) {
  const at = new Date(iso);
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (at.toDateString() === now.toDateString()) return 'Today';
  if (at.toDateString() === yesterday.toDateString()) return 'Yesterday';
  return at.toLocaleDateString([], { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });
}
