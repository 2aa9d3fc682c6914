// One panel per lane: the truck in the lane as read (plates, container numbers with their check digit, seals,
// crops), the clearance decision and its reasons, the barrier, and the operator's override buttons.
//
// Passages and decisions come from two publishers, so a decision may arrive before its passage. Each panel keeps
// the lane's recent passages by id and shows the newest one with whatever decision belongs to it; an old
// passage's late decision (an override of the truck before) never replaces the truck now in the lane.

import { t, pick } from "./i18n.js";

const KEEP_PASSAGES = 20;
const MAX_THUMBS = 6;
const MAX_CACHED_CROPS = 200;

// Which decisions each override may replace: the same table as control/operator_actions.py. The server checks
// again (409 with its reason); here it only keeps pointless buttons disabled.
const ALLOWED_FROM = {
  OVERRIDE_OPEN: ["HOLD", "INSPECT"],
  OVERRIDE_HOLD: ["OPEN", "INSPECT", "REJECT"],
  OVERRIDE_INSPECT: ["OPEN", "HOLD", "REJECT"],
};
const BUTTON_IDS = { OVERRIDE_OPEN: "open", OVERRIDE_HOLD: "hold", OVERRIDE_INSPECT: "inspect" };

/** Evidence crops as blob URLs, fetched once with the token and released when evicted. */
export class CropCache {
  constructor(client) {
    this.client = client;
    this.urls = new Map(); // evidence url -> Promise<blob url>
  }

  get(url) {
    let pending = this.urls.get(url);
    if (pending === undefined) {
      pending = this.client.blobUrl(url);
      pending.catch(() => this.urls.delete(url)); // a missing crop may appear later: ask again next time
      this.urls.set(url, pending);
      this.evict();
    }
    return pending;
  }

  evict() {
    while (this.urls.size > MAX_CACHED_CROPS) {
      const [oldest, pending] = this.urls.entries().next().value;
      this.urls.delete(oldest);
      pending.then((blobUrl) => URL.revokeObjectURL(blobUrl), () => {});
    }
  }
}

export class LanePanel {
  /** info: {lane_id, direction, description}; actions: {canOperate, crops, onOverride(lane, action, entry)}. */
  constructor(info, template, actions) {
    this.info = info;
    this.actions = actions;
    this.meta = { reader_alive: true, fps: null, queue: 0, stale: false };
    this.barrier = { state: "unknown", ts_utc: null };
    this.entries = new Map(); // passage_id -> {passage, decision}
    this.currentId = null;
    this.pageStale = true;
    this.el = template.content.firstElementChild.cloneNode(true);
    this.bindElements();
  }

  bindElements() {
    const id = this.info.lane_id;
    const q = (selector) => this.el.querySelector(selector);
    this.el.id = `lane-${id}`;
    this.el.dataset.testid = `lane-${id}`;
    this.parts = {
      name: q(".lane-name"), direction: q(".lane-direction"), reader: q(".lane-reader"), queue: q(".lane-queue"),
      plates: q(".plates"), containers: q(".containers"), seals: q(".seals"), thumbs: q(".thumbs"),
      decision: q(".decision"), outcome: q(".outcome"), meta: q(".decision-meta"), reasons: q(".reasons"),
      note: q(".override-note"),
      barrier: q(".barrier"), barrierState: q(".barrier-state"), operator: q(".operator-actions"),
    };
    this.parts.decision.id = `lane-${id}-decision`;
    this.parts.decision.dataset.testid = `lane-${id}-decision`;
    this.parts.barrier.id = `lane-${id}-barrier`;
    this.parts.barrier.dataset.testid = `lane-${id}-barrier`;
    for (const button of this.parts.operator.querySelectorAll("button")) {
      const action = button.dataset.action;
      button.id = `override-${BUTTON_IDS[action]}-${id}`;
      button.dataset.testid = button.id;
      button.addEventListener("click", () => this.requestOverride(action));
    }
  }

  // ---- state changes -------------------------------------------------------------------------------------------

  /** A whole lane state (REST or a "lane" event): the server's view replaces ours. */
  setState(state) {
    this.meta = {
      reader_alive: state.reader_alive !== false,
      fps: typeof state.fps === "number" ? state.fps : null,
      queue: Number(state.queue) || 0,
      stale: state.stale === true,
    };
    if (state.barrier) this.barrier = { state: state.barrier.state, ts_utc: state.barrier.ts_utc };
    // The decision first: when it belongs to an older passage, the lane's passage must still end up current.
    if (state.decision) this.addDecision(state.decision);
    if (state.passage) this.addPassage(state.passage);
    if (!state.passage && !state.decision) this.currentId = null;
  }

  addPassage(passage) {
    this.entry(passage.passage_id).passage = passage;
    this.currentId = passage.passage_id;
  }

  addDecision(decision) {
    const known = this.entries.has(decision.passage_id);
    this.entry(decision.passage_id).decision = decision;
    if (!known) this.currentId = decision.passage_id; // its passage is on its way (another publisher)
  }

  setBarrier(event) {
    this.barrier = { state: event.state, ts_utc: event.ts_utc };
  }

  entry(passageId) {
    let entry = this.entries.get(passageId);
    if (entry === undefined) {
      entry = { passage: null, decision: null };
      this.entries.set(passageId, entry);
      if (this.entries.size > KEEP_PASSAGES) this.entries.delete(this.entries.keys().next().value);
    }
    return entry;
  }

  /** The id of the latest decision for a passage (to tell whether an override was carried out). */
  decisionIdOf(passageId) {
    const entry = this.entries.get(passageId);
    return entry && entry.decision ? entry.decision.decision_id : null;
  }

  current() {
    return (this.currentId !== null && this.entries.get(this.currentId)) || { passage: null, decision: null };
  }

  setPageStale(stale) {
    this.pageStale = stale;
  }

  // ---- rendering -----------------------------------------------------------------------------------------------

  render() {
    const stale = this.pageStale || this.meta.stale;
    this.el.classList.toggle("stale", stale);
    this.el.dataset.stale = String(stale);
    this.renderHead();
    const { passage, decision } = this.current();
    this.renderReads(passage);
    this.renderDecision(decision);
    this.renderBarrier();
    this.renderActions(decision, stale);
  }

  renderHead() {
    const { lane_id: id, direction, description } = this.info;
    this.parts.name.textContent = id;
    this.parts.name.title = description || "";
    this.parts.direction.textContent = t(direction === "out" ? "lane.out" : "lane.in");
    const reader = this.meta.reader_alive
      ? (this.meta.fps === null ? "" : t("lane.fps", { fps: this.meta.fps.toFixed(1) }))
      : t("lane.reader_down");
    this.parts.reader.textContent = reader;
    this.parts.reader.classList.toggle("warn", !this.meta.reader_alive);
    this.parts.queue.textContent = t("lane.queue", { n: this.meta.queue });
  }

  renderReads(passage) {
    const plates = passage ? passage.plates || [] : [];
    const containers = passage ? passage.containers || [] : [];
    const seals = passage ? passage.seals || [] : [];
    fillList(this.parts.plates, plates, (plate) => readItem(plate.text, plate.confidence, plate.format));
    fillList(this.parts.containers, containers, containerItem);
    fillList(this.parts.seals, seals, sealItem);
    this.renderThumbs(passage ? [...plates, ...containers, ...seals] : []);
  }

  renderThumbs(reads) {
    const urls = reads.flatMap((read) => read.evidence || []).slice(0, MAX_THUMBS);
    const box = this.parts.thumbs;
    if (box.dataset.urls === urls.join(" ")) return; // same crops: keep the images, no refetch, no flicker
    box.dataset.urls = urls.join(" ");
    box.replaceChildren(...urls.map((url) => this.thumb(url)));
  }

  thumb(url) {
    const img = document.createElement("img");
    img.className = "thumb";
    img.alt = t("lane.evidence");
    img.dataset.evidence = url;
    this.actions.crops.get(url).then((blobUrl) => {
      if (img.isConnected) img.src = blobUrl;
    }, () => img.classList.add("missing"));
    return img;
  }

  renderDecision(decision) {
    const box = this.parts.decision;
    box.dataset.outcome = decision ? decision.outcome : "";
    box.dataset.passage = decision ? decision.passage_id : "";
    this.parts.outcome.textContent = decision ? t(`outcome.${decision.outcome}`) : t("lane.no_decision");
    this.parts.meta.textContent = decision ? decisionMeta(decision) : "";
    const reasons = decision ? decision.reasons || [] : [];
    fillList(this.parts.reasons, reasons, (reason) => textItem(pick(reason), reason.code), false);
    const override = decision && decision.override;
    this.parts.note.textContent = override
      ? t("lane.override_by", { operator: override.operator, reason: override.reason })
      : "";
  }

  renderBarrier() {
    const state = this.barrier.state || "unknown";
    this.parts.barrier.dataset.state = state;
    this.parts.barrierState.textContent = t(`barrier.${state}`);
  }

  renderActions(decision, stale) {
    this.parts.operator.hidden = !this.actions.canOperate();
    for (const button of this.parts.operator.querySelectorAll("button")) {
      const action = button.dataset.action;
      button.textContent = t(`action.${action}`);
      // Never act on a picture that may be old: a stale lane has its buttons disabled.
      button.disabled = stale || !decision || !ALLOWED_FROM[action].includes(decision.outcome);
    }
  }

  requestOverride(action) {
    const { passage, decision } = this.current();
    if (!decision) return;
    this.actions.onOverride(this, action, { passage, decision });
  }
}

function decisionMeta(decision) {
  const confidence = Math.round(100 * (Number(decision.confidence) || 0));
  return decision.declaration_id
    ? t("lane.decision_meta", { declaration: decision.declaration_id, confidence })
    : t("lane.no_declaration_meta", { confidence });
}

// ---- small DOM helpers -----------------------------------------------------------------------------------------

function fillList(list, items, makeItem, showNone = true) {
  if (items.length === 0 && showNone) {
    list.replaceChildren(textItem(t("lane.none"), "none"));
    return;
  }
  list.replaceChildren(...items.map(makeItem));
}

function textItem(text, className) {
  const li = document.createElement("li");
  li.textContent = text;
  if (className) li.className = className;
  return li;
}

function span(text, className) {
  const el = document.createElement("span");
  el.textContent = text;
  if (className) el.className = className;
  return el;
}

function confidence(value) {
  return typeof value === "number" ? span(`${Math.round(value * 100)}%`, "confidence") : span("");
}

function readItem(text, conf, format) {
  const li = document.createElement("li");
  li.append(span(text || "?", "read-text"));
  if (format && format !== "unknown") li.append(span(format.toUpperCase(), "tag"));
  li.append(confidence(conf));
  return li;
}

function containerItem(container) {
  const li = readItem(container.number, container.confidence, container.size_type);
  const ok = container.check_digit_ok === true;
  const mark = span(ok ? "✓" : "✗", ok ? "check ok" : "check bad");
  mark.title = t(ok ? "check.ok" : "check.bad");
  li.insertBefore(mark, li.children[1]);
  return li;
}

function sealItem(seal) {
  const li = document.createElement("li");
  li.append(span(t(`seal.${seal.state}`), `seal seal-${seal.state}`));
  if (seal.number) li.append(span(seal.number, "read-text"));
  li.append(confidence(seal.confidence));
  return li;
}
