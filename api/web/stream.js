// The live stream (WebSocket /api/v1/ws): sign-in message, reconnect with backoff, and the staleness watchdog.
//
// Why a watchdog and not just onclose: a link can go silent without closing (a dead NAT, a hung proxy, a frozen
// server), and an operator must never take a frozen picture for a live one. The server pings every second; when
// nothing has come for stale_after_s the page is declared stale at once, the socket is dropped and a new one is
// made. Live comes back only after the new "hello" and a full reload of the state over REST (the app does that).

const MIN_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 5000; // never wait longer than this between two attempts
const WATCH_EVERY_MS = 200;
const OFFSET_SAMPLES = 30;
const CLOSE_UNAUTHORIZED = 4401;
const CLOSE_FORBIDDEN = 4403;

/** Server clock minus ours, from the server_utc of hello and pings. A sample arrives late by the one-way delay,
 * so each sample underestimates the offset; the largest of the recent ones is the best estimate. */
export class ClockOffset {
  constructor() {
    this.samples = [];
    this.offsetMs = 0;
  }

  observe(serverUtcSeconds, receivedWallMs) {
    if (typeof serverUtcSeconds !== "number" || !Number.isFinite(serverUtcSeconds)) return;
    this.samples.push(serverUtcSeconds * 1000 - receivedWallMs);
    if (this.samples.length > OFFSET_SAMPLES) this.samples.shift();
    this.offsetMs = Math.max(...this.samples);
  }

  /** A wall-clock time of ours in the server's clock. */
  toServer(wallMs) {
    return wallMs + this.offsetMs;
  }
}

/** Now, as a high-resolution wall-clock time in ms. */
export function wallNow() {
  return performance.timeOrigin + performance.now();
}

export class LiveStream {
  /**
   * handlers: onHello(msg), onEvent(event, receivedWallMs), onStatus("connecting"|"live"|"stale"),
   * onUnauthorized(). staleAfterMs: silence after which the picture is stale.
   */
  constructor(token, staleAfterMs, handlers) {
    this.token = token;
    this.staleAfterMs = staleAfterMs;
    this.handlers = handlers;
    this.clock = new ClockOffset();
    this.socket = null;
    this.greeted = false;
    this.attempt = 0;
    this.lastHeardMono = performance.now();
    this.connectedMono = this.lastHeardMono;
    this.stale = false;
    this.stopped = false;
    this.retryTimer = null;
    this.watchTimer = setInterval(() => this.watch(), WATCH_EVERY_MS);
    this.connect();
  }

  connect() {
    if (this.stopped) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/api/v1/ws`);
    this.socket = socket;
    this.greeted = false; // no hello on this socket yet
    this.connectedMono = performance.now();
    this.lastHeardMono = this.connectedMono; // the watchdog counts from the attempt
    socket.onopen = () => socket.send(JSON.stringify({ token: this.token }));
    socket.onmessage = (message) => this.receive(socket, message.data);
    socket.onclose = (event) => this.closed(socket, event.code);
  }

  receive(socket, raw) {
    if (socket !== this.socket) return; // a late message of a socket already given up
    const received = wallNow();
    let event;
    try {
      event = JSON.parse(raw);
    } catch {
      return; // a broken frame says nothing about the state: ignore it, the watchdog still runs
    }
    if (!event || typeof event.type !== "string") return;
    this.lastHeardMono = performance.now();
    if (event.type === "hello" || event.type === "ping") {
      const utc = event.type === "hello" ? event.server_utc : event.data && event.data.server_utc;
      this.clock.observe(utc, received);
    }
    if (event.type === "hello") {
      this.attempt = 0;
      this.greeted = true;
      this.handlers.onHello(event);
    } else if (event.type !== "ping") {
      this.handlers.onEvent(event, received);
    }
  }

  closed(socket, code) {
    if (socket !== this.socket) return;
    this.socket = null;
    if (code === CLOSE_UNAUTHORIZED || code === CLOSE_FORBIDDEN) {
      this.stop();
      this.handlers.onUnauthorized();
      return;
    }
    this.markStale();
    this.scheduleReconnect();
  }

  scheduleReconnect() {
    if (this.stopped || this.retryTimer !== null) return;
    const delay = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** this.attempt);
    this.attempt += 1;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
  }

  /** Declare the picture stale when the link has been silent too long, and replace a silent socket. */
  watch() {
    if (this.stopped) return;
    const now = performance.now();
    const silent = now - this.lastHeardMono > this.staleAfterMs;
    // A socket that never said hello is no better than a silent one, even if pings come (its hello was lost).
    const ungreeted = this.socket !== null && !this.greeted && now - this.connectedMono > this.staleAfterMs;
    if (!silent && !ungreeted) return;
    this.markStale();
    if (this.socket !== null) {
      const dropped = this.socket;
      this.socket = null; // its late messages are ignored from now on
      dropped.onclose = null;
      dropped.close();
      this.scheduleReconnect();
    }
  }

  markStale() {
    if (this.stale) return;
    this.stale = true;
    this.handlers.onStatus("stale");
  }

  /** True while a socket is open and its server has said hello (so its events are flowing). */
  get connected() {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN && this.greeted;
  }

  /** The app calls this once it has reloaded the state after a hello: only then is the picture live again. */
  markLive() {
    this.stale = false;
    this.handlers.onStatus("live");
  }

  stop() {
    this.stopped = true;
    clearInterval(this.watchTimer);
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    if (this.socket !== null) {
      this.socket.onclose = null;
      this.socket.close();
      this.socket = null;
    }
  }
}
