// Times as people read them, in the timezone of their profile.

/** @type {string|undefined} the user's zone; undefined is the browser's */
let zone;

/**
 * Show times in `timeZone` from now on (an IANA name; unknown names are
 * ignored and the browser's zone stays).
 * @param {string|null|undefined} timeZone
 */
export function setTimeZone(timeZone) {
  try {
    new Intl.DateTimeFormat([], { timeZone: timeZone || undefined });
    zone = timeZone || undefined;
  } catch {
    zone = undefined;
  }
}

/** `2026-12-02`: the calendar day of `at` in the zone. */
function dayKey(at) {
  return at.toLocaleDateString('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' });
}

/**
 * `14:05` for today, else a short date and time.
 * @param {string} iso
 * @param {Date} [now]
 * @returns {string}
 */
export function shortTime(iso, now = new Date()) {
  const at = new Date(iso);
  const time = at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', timeZone: zone });
  if (dayKey(at) === dayKey(now)) return time;
  return `${at.toLocaleDateString([], { month: 'short', day: 'numeric', timeZone: zone })} ${time}`;
}

/**
 * `Today`, `Yesterday` or a full date: the label of a day separator.
 * @param {string} iso
 * @param {Date} [now]
 * @returns {string}
 */
export function dayLabel(iso, now = new Date()) {
  const at = new Date(iso);
  if (dayKey(at) === dayKey(now)) return 'Today';
  if (dayKey(at) === dayKey(new Date(now.getTime() - 86_400_000))) return 'Yesterday';
  return at.toLocaleDateString([], { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric', timeZone: zone });
}
