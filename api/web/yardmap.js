// The yard map on a canvas: zones, container slots coloured by occupancy, cranes on their bays, IGVs moving.
//
// Coordinates are site metres (x along the freight road, y across it); the map fits them to the canvas with y up.
// IGV positions come a few times a second, so each one glides from where it was drawn to its new report over the
// interval between reports instead of jumping; the animation runs only while something moves.

import { t } from "./i18n.js";

export const SLOT_COLOURS = {
  empty: "#2f3b46",
  container: "#e0a526",
  truck: "#4aa3df",
  igv: "#9b6bd6",
  unknown: "#6b7780",
};
const ZONE_COLOURS = {
  truck_queue: "#1d2d3a",
  transfer_bay: "#2a2a40",
  buffer_stack: "#1f2a24",
  igv_lane: "#1b2026",
  igv_parking: "#232323",
  igv_charging: "#262016",
  border_corridor: "#301e1e",
  holding: "#2b2320",
};
const MARGIN_PX = 16;
const MAX_GLIDE_MS = 1000;

export class YardMap {
  constructor(canvas) {
    this.canvas = canvas;
    this.zones = [];
    this.slots = new Map(); // slot_id -> {slot_id, zone, state, x, y, w, h}
    this.igvs = new Map(); // igv_id -> {report, from, to, t0, glideMs}
    this.cranes = new Map(); // crane_id -> report
    this.bounds = null;
    this.animating = false;
    new ResizeObserver(() => this.resize()).observe(canvas.parentElement);
  }

  setLayout(layout) {
    this.zones = zonesOf(layout);
    this.bounds = null;
  }

  setOccupancy(occupancy) {
    for (const slot of occupancy.slots || []) {
      const known = this.slots.get(slot.slot_id);
      this.slots.set(slot.slot_id, known ? { ...known, ...slot } : slot);
    }
    if ((occupancy.slots || []).some((slot) => typeof slot.x === "number")) this.bounds = null;
  }

  /** Replace every vehicle (a full reload), dropping the ones that are gone. */
  setFleet(igvs, cranes) {
    this.igvs.clear();
    this.cranes.clear();
    for (const igv of igvs) this.moveIgv(igv);
    for (const crane of cranes) this.cranes.set(crane.crane_id, crane);
  }

  moveIgv(report) {
    if (typeof report.x !== "number" || typeof report.y !== "number") return;
    const now = performance.now();
    const known = this.igvs.get(report.igv_id);
    const from = known ? this.igvAt(known, now) : { x: report.x, y: report.y };
    const glideMs = known ? Math.min(MAX_GLIDE_MS, now - known.t0) : 0;
    this.igvs.set(report.igv_id, { report, from, to: { x: report.x, y: report.y }, t0: now, glideMs });
    this.animate();
  }

  moveCrane(report) {
    this.cranes.set(report.crane_id, { ...this.cranes.get(report.crane_id), ...report });
  }

  igvAt(igv, now) {
    const f = igv.glideMs > 0 ? Math.min(1, (now - igv.t0) / igv.glideMs) : 1;
    return { x: igv.from.x + (igv.to.x - igv.from.x) * f, y: igv.from.y + (igv.to.y - igv.from.y) * f };
  }

  /** Draw now, and keep drawing each frame while an IGV is still gliding. */
  animate() {
    if (this.animating) return;
    this.animating = true;
    const step = () => {
      const moving = this.draw();
      if (moving) requestAnimationFrame(step);
      else this.animating = false;
    };
    requestAnimationFrame(step);
  }

  resize() {
    const box = this.canvas.parentElement.getBoundingClientRect();
    const ratio = window.devicePixelRatio || 1;
    this.canvas.width = Math.max(1, Math.floor(box.width * ratio));
    this.canvas.height = Math.max(1, Math.floor(box.height * ratio));
    this.canvas.style.width = `${box.width}px`;
    this.canvas.style.height = `${box.height}px`;
    this.draw();
  }

  // ---- drawing ---------------------------------------------------------------------------------------------------

  /** Draw the whole map; true while some IGV has not reached its last reported position. */
  draw() {
    const ctx = this.canvas.getContext("2d");
    const ratio = window.devicePixelRatio || 1;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    const width = this.canvas.width / ratio;
    const height = this.canvas.height / ratio;
    ctx.clearRect(0, 0, width, height);
    const view = this.fit(width, height);
    if (view === null) return false;
    this.drawZones(ctx, view);
    this.drawSlots(ctx, view);
    this.drawCranes(ctx, view);
    return this.drawIgvs(ctx, view);
  }

  fit(width, height) {
    this.bounds = this.bounds ?? this.computeBounds();
    if (this.bounds === null) return null;
    const { minX, minY, maxX, maxY } = this.bounds;
    const scale = Math.min((width - 2 * MARGIN_PX) / (maxX - minX || 1), (height - 2 * MARGIN_PX) / (maxY - minY || 1));
    const offsetX = (width - scale * (maxX - minX)) / 2;
    const offsetY = (height - scale * (maxY - minY)) / 2;
    return {
      scale,
      px: (x) => offsetX + (x - minX) * scale,
      py: (y) => height - offsetY - (y - minY) * scale, // y up, as on the site plan
      bounds: this.bounds,
    };
  }

  computeBounds() {
    const xs = [];
    const ys = [];
    for (const zone of this.zones) for (const ring of zone.rings) for (const [x, y] of ring) xs.push(x), ys.push(y);
    for (const s of this.slots.values()) {
      if (typeof s.x !== "number") continue;
      xs.push(s.x, s.x + (s.w || 0));
      ys.push(s.y, s.y + (s.h || 0));
    }
    for (const igv of this.igvs.values()) xs.push(igv.to.x), ys.push(igv.to.y);
    if (xs.length === 0) return null;
    return { minX: Math.min(...xs), minY: Math.min(...ys), maxX: Math.max(...xs), maxY: Math.max(...ys) };
  }

  drawZones(ctx, view) {
    for (const zone of this.zones) {
      ctx.fillStyle = ZONE_COLOURS[zone.kind] || "#20262c";
      ctx.strokeStyle = "#3b4a57";
      ctx.lineWidth = 1;
      for (const ring of zone.rings) {
        ctx.beginPath();
        ring.forEach(([x, y], i) => (i === 0 ? ctx.moveTo(view.px(x), view.py(y)) : ctx.lineTo(view.px(x), view.py(y))));
        ctx.closePath();
        ctx.fill();
        ctx.stroke();
      }
    }
  }

  drawSlots(ctx, view) {
    for (const slot of this.slots.values()) {
      if (typeof slot.x !== "number" || typeof slot.y !== "number") continue;
      const w = (slot.w || 1) * view.scale;
      const h = (slot.h || 1) * view.scale;
      ctx.fillStyle = SLOT_COLOURS[slot.state] || SLOT_COLOURS.unknown;
      ctx.fillRect(view.px(slot.x), view.py(slot.y) - h, Math.max(1, w - 1), Math.max(1, h - 1));
    }
  }

  drawCranes(ctx, view) {
    ctx.font = "12px sans-serif";
    for (const crane of this.cranes.values()) {
      if (typeof crane.x !== "number") continue;
      const span = this.craneSpan(crane.crane_id, view.bounds);
      const x = view.px(crane.x);
      ctx.strokeStyle = crane.state === "fault" ? "#ff4d4d" : "#f2f2f2";
      ctx.lineWidth = 4;
      ctx.beginPath();
      ctx.moveTo(x, view.py(span.minY));
      ctx.lineTo(x, view.py(span.maxY));
      ctx.stroke();
      ctx.fillStyle = "#f2f2f2";
      ctx.fillText(crane.crane_id, x + 4, view.py(span.maxY) + 12);
    }
  }

  /** The y extent a crane's gantry spans: its transfer bay when the layout names it, else the whole yard. */
  craneSpan(craneId, bounds) {
    const bay = this.zones.find((zone) => zone.crane === craneId);
    if (!bay) return bounds;
    const ys = bay.rings.flat().map(([, y]) => y);
    return { minY: Math.min(...ys), maxY: Math.max(...ys) };
  }

  drawIgvs(ctx, view) {
    const now = performance.now();
    let moving = false;
    const size = Math.max(10, 2.5 * view.scale);
    for (const igv of this.igvs.values()) {
      const at = this.igvAt(igv, now);
      if (at.x !== igv.to.x || at.y !== igv.to.y) moving = true;
      const faulty = igv.report.state === "fault" || (igv.report.errors || []).length > 0;
      ctx.fillStyle = faulty ? "#ff4d4d" : igv.report.load ? SLOT_COLOURS.container : "#9b6bd6";
      ctx.strokeStyle = "#ffffff";
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.arc(view.px(at.x), view.py(at.y), size / 2, 0, 2 * Math.PI);
      ctx.fill();
      ctx.stroke();
    }
    return moving;
  }
}

/** The legend under the map, in the current language. */
export function legendItems() {
  return Object.entries(SLOT_COLOURS).map(([state, colour]) => ({ colour, label: t(`yard.legend.${state}`) }));
}

/** Zones as {kind, crane, rings: [[[x, y], ...]]} from whatever geometry the layout route gives. */
function zonesOf(layout) {
  const zones = (layout && Array.isArray(layout.zones) && layout.zones) || [];
  return zones
    .map((zone) => ({ kind: zone.kind, crane: zone.crane ?? null, rings: ringsOf(zone) }))
    .filter((zone) => zone.rings.length > 0);
}

function ringsOf(zone) {
  const candidates = zone.polygons ?? (zone.polygon ? [zone.polygon] : []);
  return candidates.map(exteriorRing).filter((ring) => ring.length >= 3);
}

function exteriorRing(polygon) {
  // [[x, y], ...] or {exterior: [[x, y], ...]} or [[[x, y], ...], holes...]
  const ring = Array.isArray(polygon) ? polygon : polygon && polygon.exterior;
  if (!Array.isArray(ring) || ring.length === 0) return [];
  const points = Array.isArray(ring[0][0]) ? ring[0] : ring;
  return points.filter((p) => Array.isArray(p) && typeof p[0] === "number" && typeof p[1] === "number");
}
