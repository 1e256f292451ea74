// Times as people read them, in the timezone of their profile. Formatters
// are made once per zone: making one costs far more than using it.

/** @type {string|undefined} the user's zone; undefined is the browser's */
let zone;
/** @type {Record<string, Intl.DateTimeFormat>} */
let formats = makeFormats(undefined);

function makeFormats(timeZone) {
  return {
    day: new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }),
    time: new Intl.DateTimeFormat([], { timeZone, hour: '2-digit', minute: '2-digit' }),
    shortDate: new Intl.DateTimeFormat([], { timeZone, month: 'short', day: 'numeric' }),
    longDate: new Intl.DateTimeFormat([], { timeZone, weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' }),
  };
}

/**
 * Show times in `timeZone` from now on (an IANA name; unknown names are
 * ignored and the browser's zone stays).
 * @param {string|null|undefined} timeZone
 */
export function setTimeZone(timeZone) {
  try {
    formats = makeFormats(timeZone || undefined);
    zone = timeZone || undefined;
  } catch {
    formats = makeFormats(undefined);
    zone = undefined;
  }
}

/** The zone times are shown in (undefined: the browser's). */
export function timeZone() {
  return zone;
}

/** `2026-12-02`: the calendar day of `at` in the zone. */
function dayKey(at) {
  return formats.day.format(at);
}

/**
 * `14:05` for today, else a short date and time.
 * @param {string} iso
 * @param {Date} [now]
 * @returns {string}
 */
export function shortTime(iso, now = new Date()) {
  const at = new Date(iso);
  const time = formats.time.format(at);
  if (dayKey(at) === dayKey(now)) return time;
  return `${formats.shortDate.format(at)} ${time}`;
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
  return formats.longDate.format(at);
}
