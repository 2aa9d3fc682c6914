// How long a bus event takes to reach the screen: from the message's own ts_utc (the server's clock) to the
// rendering pass that shows it (our clock, moved to the server's by the offset the stream measures). The target
// is 250 ms; the tests read it through window.smartgate.latency().

const KEEP = 2000; // the most recent samples; enough for a p99, bounded for a page left open for weeks

export class LatencyMeter {
  constructor() {
    this.samples = [];
  }

  /** One event shown: its bus time (UTC s) and the server-clock time (ms) at which its rendering finished. */
  record(eventTsUtc, shownServerMs) {
    if (typeof eventTsUtc !== "number" || !Number.isFinite(eventTsUtc)) return;
    this.samples.push(shownServerMs - eventTsUtc * 1000);
    if (this.samples.length > KEEP) this.samples.shift();
  }

  /** {count, p50, p99} in ms (null percentiles when nothing was measured yet). */
  summary() {
    const sorted = [...this.samples].sort((a, b) => a - b);
    return { count: sorted.length, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
  }

  reset() {
    this.samples = [];
  }
}

function percentile(sorted, q) {
  if (sorted.length === 0) return null;
  const index = Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1);
  return sorted[Math.max(0, index)];
}
