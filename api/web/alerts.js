// The alert list: seal missing, mismatch, barrier fault, IGV fault, reader down; newest first, in the chosen
// language. Alerts are keyed by id so that a reload after a reconnect does not show one twice.

import { t, pick } from "./i18n.js";

const KEEP = 100;

export class AlertList {
  constructor(list) {
    this.list = list;
    this.alerts = new Map(); // alert_id -> alert
  }

  /** Replace every alert (a full reload). */
  setAll(alerts) {
    this.alerts.clear();
    for (const alert of alerts) this.add(alert);
  }

  add(alert) {
    if (!alert || typeof alert.alert_id !== "string") return;
    this.alerts.set(alert.alert_id, alert);
    if (this.alerts.size > KEEP) {
      const oldest = [...this.alerts.values()].sort((a, b) => a.ts_utc - b.ts_utc)[0];
      this.alerts.delete(oldest.alert_id);
    }
  }

  render() {
    const newestFirst = [...this.alerts.values()].sort((a, b) => (b.ts_utc || 0) - (a.ts_utc || 0));
    if (newestFirst.length === 0) {
      const none = document.createElement("li");
      none.className = "none";
      none.textContent = t("alerts.none");
      this.list.replaceChildren(none);
      return;
    }
    this.list.replaceChildren(...newestFirst.map(alertItem));
  }
}

function alertItem(alert) {
  const li = document.createElement("li");
  li.className = `alert alert-${alert.kind}`;
  li.dataset.kind = alert.kind;
  const head = document.createElement("div");
  head.className = "alert-head";
  const kind = document.createElement("span");
  kind.className = "alert-kind";
  kind.textContent = t(`alert.${alert.kind}`);
  const where = document.createElement("span");
  where.className = "alert-where";
  where.textContent = [alert.lane_id, clockTime(alert.ts_utc)].filter(Boolean).join(" · ");
  head.append(kind, where);
  const text = document.createElement("div");
  text.className = "alert-text";
  text.textContent = pick(alert, "text");
  li.append(head, text);
  return li;
}

/** HH:MM:SS of a UTC timestamp, in the control room's local time. */
export function clockTime(utcSeconds) {
  if (typeof utcSeconds !== "number") return "";
  return new Date(utcSeconds * 1000).toLocaleTimeString("vi-VN", { hour12: false });
}
