// The WebSocket gateway: one socket, resumed from the last cursor after a
// drop, with growing pauses between attempts.

/** Close code of a socket whose session ended: do not reconnect. */
const SESSION_ENDED = 4001;
/** How often an open socket says it is still there (keeps presence). */
const PING_EVERY_MS = 60_000;

export class Gateway {
  /**
   * @param {(event: any) => void} onEvent every event but `hello`
   * @param {(state: 'online'|'offline'|'ended') => void} onState
   */
  constructor(onEvent, onState) {
    this.onEvent = onEvent;
    this.onState = onState;
    /** @type {string|null} the cursor of the last event received */
    this.cursor = null;
    this.attempts = 0;
    this.socket = null;
    this.stopped = false;
  }

  /** Open the socket (again). */
  start() {
    this.stopped = false;
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const query = this.cursor ? `?cursor=${encodeURIComponent(this.cursor)}` : '';
    const socket = new WebSocket(`${scheme}://${location.host}/api/v1/ws${query}`);
    this.socket = socket;
    socket.addEventListener('message', (message) => {
      const event = JSON.parse(message.data);
      if (event.cursor) this.cursor = event.cursor;
      if (event.type === 'hello') {
        this.attempts = 0;
        clearInterval(this.pinger);
        this.pinger = setInterval(() => this.send({ type: 'ping' }), PING_EVERY_MS);
        this.onState('online');
        return;
      }
      this.onEvent(event);
    });
    socket.addEventListener('close', (close) => {
      if (this.socket !== socket) return;
      clearInterval(this.pinger);
      if (this.stopped) return;
      if (close.code === SESSION_ENDED) {
        this.onState('ended');
        return;
      }
      this.onState('offline');
      const pause = Math.min(15000, 500 * 2 ** this.attempts);
      this.attempts += 1;
      setTimeout(() => this.start(), pause);
    });
  }

  /**
   * Send a message to the server when the socket is open (dropped when not).
   * @param {object} message
   */
  send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  /** Close for good (logging out, switching workspace). */
  stop() {
    this.stopped = true;
    if (this.socket) this.socket.close(1000);
  }
}
