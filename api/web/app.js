// The control room: signs in, builds one panel per lane, follows the live stream and keeps every panel honest.
//
// The rule the whole page follows: never show a stale state as live. Until the stream has said hello and the full
// state has been read again over REST, the panels stay greyed; a gap in the stream or a silent link greys them
// again (and shows the STALE banner) until the next full reload. Events that arrive during a reload are queued and
// applied after it, in order, so that nothing newer is overwritten by the reload.

import { applyLabels, language, setLanguage, t } from "./i18n.js";
import { Client, clearSession, itemsOf, loadSession, signIn } from "./api.js";
import { LiveStream, wallNow } from "./stream.js";
import { LatencyMeter } from "./latency.js";
import { CropCache, LanePanel } from "./lanes.js";
import { YardMap, legendItems } from "./yardmap.js";
import { KpiBoard } from "./kpis.js";
import { AlertList } from "./alerts.js";
import { OverrideDialog } from "./override.js";

const DEFAULT_STALE_AFTER_S = 3.0;
const RELOAD_RETRY_MS = 1000;
const TOAST_MS = 4000;
const OVERRIDE_ANSWER_MS = 8000;
const RECENT_DECISIONS = 200; // passages whose last decision the page keeps, to match late override replies
const OPERATING_ROLES = ["operator", "admin"];
const LANE_EVENTS = ["passage", "decision", "barrier", "lane"];

const $ = (id) => document.getElementById(id);
const meter = new LatencyMeter();

const page = {
  session: null,
  client: null,
  stream: null,
  status: "signed-out", // signed-out | connecting | syncing | live | stale
  lanes: new Map(), // lane_id -> LanePanel
  yard: null,
  kpis: null,
  alerts: null,
  dialog: null,
  queued: null, // events received while a reload runs; null when none runs
  reloadAgain: false,
  dirty: new Set(), // what to redraw at the next frame: lane ids, "kpis", "alerts", "yard", "all"
  shown: [], // ts_utc of events applied since the last frame, for the latency meter
  frameRequested: false,
  overrides: new Map(), // passage_id -> {replaced: decision id, outcome asked for}, until carried out
  decisions: new Map(), // passage_id -> the last decision seen for it (bounded): an answer may beat the POST reply
};

// ---- start-up and session ----------------------------------------------------------------------------------------

function main() {
  applyLabels(document);
  $("lang-toggle").addEventListener("click", toggleLanguage);
  $("login-form").addEventListener("submit", onLogin);
  $("logout").addEventListener("click", signOut);
  page.kpis = new KpiBoard(document);
  page.alerts = new AlertList($("alerts"));
  page.yard = new YardMap($("yard-map"));
  page.dialog = new OverrideDialog(document, sendOverride);
  tickClock();
  setInterval(tickClock, 1000);
  window.smartgate = {
    latency: () => meter.summary(),
    resetLatency: () => meter.reset(),
    status: () => page.status,
    language,
  };
  const session = loadSession();
  if (session) start(session);
  else showLogin();
}

function showLogin() {
  setStatus("signed-out");
  document.body.classList.replace("signed-in", "signed-out");
  $("login-user").focus();
}

async function onLogin(event) {
  event.preventDefault();
  const error = $("login-error");
  error.textContent = "";
  $("login-submit").disabled = true;
  try {
    const session = await signIn($("login-user").value.trim(), $("login-pass").value);
    $("login-pass").value = "";
    await start(session);
  } catch (failure) {
    error.textContent = loginError(failure);
  } finally {
    $("login-submit").disabled = false;
  }
}

function loginError(failure) {
  if (failure.status === 401 || failure.status === 400 || failure.status === 422) return t("login.failed");
  if (failure.status === 429) return t("login.busy");
  if (failure.status === 403) return t("login.refused", { detail: failure.detail });
  return t("login.error");
}

/** Signed in: read the site's configuration, build the board and open the stream. */
async function start(session) {
  page.session = session;
  page.client = new Client(session, signOut);
  document.body.classList.replace("signed-out", "signed-in");
  $("session-user").textContent = `${session.user} · ${t(`role.${session.role}`)}`;
  setStatus("connecting");
  const config = await page.client.get("/config").catch(() => ({}));
  if (page.session !== session) return; // the token was refused meanwhile: back at the sign-in form
  $("site-name").textContent = config.site_name || "";
  await buildLanes(config);
  page.client.get("/yard/layout").then((layout) => page.yard.setLayout(layout), () => {}).finally(() => markDirty("yard"));
  const staleAfterS = Number(config.stale_after_s) > 0 ? Number(config.stale_after_s) : DEFAULT_STALE_AFTER_S;
  page.stream = new LiveStream(session.token, staleAfterS * 1000, {
    onHello, onEvent, onStatus: setStatus, onUnauthorized: signOut,
  });
}

function signOut() {
  if (page.stream) page.stream.stop();
  page.stream = null;
  page.session = null;
  clearSession();
  page.dialog.close();
  showLogin();
}

function canOperate() {
  return page.session !== null && OPERATING_ROLES.includes(page.session.role);
}

async function buildLanes(config) {
  let lanes = Array.isArray(config.lanes) ? config.lanes : [];
  if (lanes.length === 0) lanes = itemsOf(await page.client.get("/lanes").catch(() => []));
  const crops = new CropCache(page.client);
  const template = $("lane-template");
  page.lanes.clear();
  for (const lane of lanes) {
    const info = { ...lane, lane_id: lane.lane_id ?? lane.id };
    page.lanes.set(info.lane_id, new LanePanel(info, template, { canOperate, crops, onOverride: openOverride }));
  }
  $("lanes").replaceChildren(...[...page.lanes.values()].map((panel) => panel.el));
  $("lanes").dataset.count = String(page.lanes.size);
  applyLabels($("lanes"));
  markDirty("all");
}

// ---- the stream ----------------------------------------------------------------------------------------------------

function onHello() {
  reload();
}

function onEvent(event) {
  if (event.type === "gap") {
    setStatus("syncing"); // events were lost: greyed (not live) until the reload
    reload();
    return;
  }
  if (page.queued !== null) {
    page.queued.push(event);
    return;
  }
  applyEvent(event);
}

/** Read the whole state again over REST; the page turns live only once it has. */
async function reload() {
  if (page.queued !== null) {
    page.reloadAgain = true; // a new hello or gap during a reload: its reads may predate it, so read again
    return;
  }
  page.queued = [];
  if (page.status !== "stale") setStatus("syncing");
  try {
    do {
      page.reloadAgain = false;
      await reloadState();
    } while (page.reloadAgain);
    const queued = page.queued;
    page.queued = null;
    for (const event of queued) applyEvent(event);
    // Live only if the link that said hello is still up; else the next hello reloads again.
    if (page.stream && page.stream.connected) page.stream.markLive();
  } catch {
    page.queued = null;
    if (page.session === null) return; // signed out (the token was refused): nothing to show as stale
    setStatus("stale");
    setTimeout(() => page.stream && page.stream.connected && reload(), RELOAD_RETRY_MS);
  }
}

async function reloadState() {
  const client = page.client;
  const laneStates = await Promise.all(
    [...page.lanes.keys()].map((id) => client.get(`/lanes/${encodeURIComponent(id)}/state`)));
  for (const state of laneStates) {
    page.lanes.get(state.lane_id)?.setState(state);
    if (state.decision) noteDecision(state.decision);
  }
  const [occupancy, igvs, cranes, kpis, alerts] = await Promise.allSettled([
    client.get("/yard/occupancy"), client.get("/igvs"), client.get("/cranes"), client.get("/kpis"),
    client.get("/alerts")]);
  if (occupancy.status === "fulfilled") page.yard.setOccupancy(occupancy.value);
  if (occupancy.status === "fulfilled") renderQueues(occupancy.value.queues || {});
  page.yard.setFleet(settledItems(igvs), settledItems(cranes));
  if (kpis.status === "fulfilled") page.kpis.set(kpis.value);
  if (alerts.status === "fulfilled") page.alerts.setAll(itemsOf(alerts.value));
  markDirty("all");
}

function settledItems(result) {
  return result.status === "fulfilled" ? itemsOf(result.value) : [];
}

/** Apply one stream event to the model and mark what must be redrawn. */
function applyEvent(event) {
  const data = event.data || {};
  const lane = LANE_EVENTS.includes(event.type) ? page.lanes.get(data.lane_id) : undefined;
  switch (event.type) {
    case "passage": lane?.addPassage(data); break;
    case "decision": lane?.addDecision(data); noteDecision(data); break;
    case "barrier": lane?.setBarrier(data); break;
    case "lane": lane?.setState(data); if (data.decision) noteDecision(data.decision); break;
    case "occupancy": page.yard.setOccupancy(data); renderQueues(data.queues || {}); break;
    case "igv": page.yard.moveIgv(data); break;
    case "crane": page.yard.moveCrane(data); break;
    case "kpi": page.kpis.set(data); break;
    case "alert": page.alerts.add(data); break;
    default: return; // "job" and unknown types: nothing on this screen shows them
  }
  markDirty(lane ? data.lane_id : eventArea(event.type));
  page.shown.push(event.ts_utc);
}

function eventArea(type) {
  if (type === "kpi") return "kpis";
  if (type === "alert") return "alerts";
  return "yard";
}

// ---- rendering -----------------------------------------------------------------------------------------------------

function markDirty(area) {
  page.dirty.add(area);
  if (page.frameRequested) return;
  page.frameRequested = true;
  requestAnimationFrame(renderFrame); // many events in one frame are drawn once
}

function renderFrame() {
  page.frameRequested = false;
  const dirty = page.dirty;
  page.dirty = new Set();
  const all = dirty.has("all");
  for (const [id, panel] of page.lanes) if (all || dirty.has(id)) panel.render();
  if (all || dirty.has("kpis")) page.kpis.render();
  if (all || dirty.has("alerts")) page.alerts.render();
  if (all || dirty.has("yard")) page.yard.animate();
  if (all) renderLegend();
  const shownAt = page.stream ? page.stream.clock.toServer(wallNow()) : wallNow();
  for (const tsUtc of page.shown) meter.record(tsUtc, shownAt);
  page.shown = [];
}

function setStatus(status) {
  page.status = status;
  const live = status === "live";
  const stale = status === "stale";
  $("stale-banner").hidden = !stale;
  document.body.classList.toggle("is-stale", stale);
  document.body.dataset.status = status;
  const conn = $("conn-status");
  conn.dataset.state = status;
  conn.textContent = live ? t("conn.live") : stale ? t("conn.stale") : status === "signed-out" ? "" : t("conn.connecting");
  for (const panel of page.lanes.values()) panel.setPageStale(!live);
  markDirty("all");
}

function renderQueues(queues) {
  const items = Object.entries(queues).map(([name, length]) => {
    const li = document.createElement("li");
    li.textContent = `${name}: ${length}`;
    return li;
  });
  $("yard-queues").replaceChildren(...items);
}

function renderLegend() {
  $("yard-legend").replaceChildren(...legendItems().map(({ colour, label }) => {
    const li = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.backgroundColor = colour;
    li.append(swatch, document.createTextNode(label));
    return li;
  }));
}

function toggleLanguage() {
  setLanguage(language() === "vi" ? "en" : "vi");
  setStatus(page.status); // relabels the connection state in the new language
  if (page.session) $("session-user").textContent = `${page.session.user} · ${t(`role.${page.session.role}`)}`;
}

function tickClock() {
  $("clock").textContent = new Date().toLocaleTimeString("vi-VN", { hour12: false });
}

function showToast(text, kind = "info") {
  const toast = $("toast");
  toast.textContent = text;
  toast.dataset.kind = kind;
  toast.hidden = false;
  clearTimeout(showToast.timer);
  showToast.timer = setTimeout(() => (toast.hidden = true), TOAST_MS);
}

// ---- operator actions ----------------------------------------------------------------------------------------------

function openOverride(lane, action, target) {
  if (!canOperate() || page.status !== "live") return;
  page.dialog.open(lane, action, target, (sentText) => {
    showToast(sentText);
    watchOverride(lane, action, target.decision);
  });
}

/** The API accepted the action, but clearance decides (and may refuse: the operator is not on its list, the
 * truck changed). Say so when no new decision for the passage has come after a while, instead of silence. */
function watchOverride(lane, action, decision) {
  page.overrides.set(decision.passage_id, {
    replaced: decision.decision_id, outcome: action.replace("OVERRIDE_", ""), lane: lane.info.lane_id });
  const seen = page.decisions.get(decision.passage_id); // clearance may have answered before the API replied
  if (seen) confirmOverride(seen);
  setTimeout(() => {
    if (page.overrides.get(decision.passage_id)?.replaced !== decision.decision_id) return;
    page.overrides.delete(decision.passage_id);
    if (lane.decisionIdOf(decision.passage_id) !== decision.decision_id) return;
    showToast(t("dialog.unanswered", { action: t(`action.${action}`), lane: lane.info.lane_id }), "warn");
  }, OVERRIDE_ANSWER_MS);
}

/** Remember the newest decision of each recent passage, then see whether it answers an override. */
function noteDecision(decision) {
  page.decisions.delete(decision.passage_id);
  page.decisions.set(decision.passage_id, decision);
  if (page.decisions.size > RECENT_DECISIONS) page.decisions.delete(page.decisions.keys().next().value);
  confirmOverride(decision);
}

/** Tell the operator when clearance has carried out their override (a new decision for the passage with the
 * outcome asked for; its override details may come later): by then the lane may already show the next truck,
 * whose panel an old passage's decision never replaces. */
function confirmOverride(decision) {
  const sent = page.overrides.get(decision.passage_id);
  if (!sent || sent.replaced === decision.decision_id || sent.outcome !== decision.outcome) return;
  page.overrides.delete(decision.passage_id);
  showToast(t("dialog.done", {
    outcome: t(`outcome.${decision.outcome}`), lane: decision.lane_id || sent.lane, passage: decision.passage_id }));
}

async function sendOverride(passageId, action, reason) {
  await page.client.post(`/passages/${encodeURIComponent(passageId)}/override`, { action, reason });
}

main();
