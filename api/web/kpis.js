// KPI tiles with small canvas charts: trucks per hour and queue length over the last hour, decisions by outcome.

import { t } from "./i18n.js";

const OUTCOME_COLOURS = { OPEN: "#2fb36d", HOLD: "#e0a526", INSPECT: "#4aa3df", REJECT: "#e04b4b" };
const LINE_COLOUR = "#4aa3df";

export class KpiBoard {
  constructor(doc) {
    this.el = {
      trucks: doc.getElementById("kpi-trucks-per-hour"),
      queue: doc.getElementById("kpi-queue-length"),
      gate: doc.getElementById("kpi-time-at-gate"),
      trucksChart: doc.getElementById("chart-trucks-per-hour"),
      queueChart: doc.getElementById("chart-queue-length"),
      decisions: doc.getElementById("chart-decisions"),
    };
    this.kpis = null;
  }

  set(kpis) {
    this.kpis = kpis;
  }

  render() {
    const k = this.kpis;
    if (!k) return;
    this.el.trucks.textContent = formatNumber(k.trucks_per_hour, 0);
    this.el.queue.textContent = formatNumber(k.queue_length, 0);
    const gate = k.time_at_gate_s || {};
    this.el.gate.textContent = `${seconds(gate.p50)} / ${seconds(gate.p95)}`;
    const series = k.series || {};
    sparkline(this.el.trucksChart, series.trucks_per_hour || []);
    sparkline(this.el.queueChart, series.queue_length || []);
    outcomeBars(this.el.decisions, k.decisions || {});
  }
}

function formatNumber(value, digits) {
  return typeof value === "number" && Number.isFinite(value) ? value.toFixed(digits) : "—";
}

function seconds(value) {
  return typeof value === "number" && Number.isFinite(value) ? t("unit.s", { n: value.toFixed(0) }) : "—";
}

/** A canvas sized to its CSS box in device pixels, with a context drawing in CSS pixels. */
function prepare(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  if (canvas.width !== Math.floor(width * ratio)) canvas.width = Math.floor(width * ratio);
  if (canvas.height !== Math.floor(height * ratio)) canvas.height = Math.floor(height * ratio);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  return { ctx, width, height };
}

/** points: [[t, v], ...] in time order. */
function sparkline(canvas, points) {
  const { ctx, width, height } = prepare(canvas);
  const valid = points.filter((p) => Array.isArray(p) && Number.isFinite(p[0]) && Number.isFinite(p[1]));
  if (valid.length === 0) return;
  const t0 = valid[0][0];
  const t1 = valid[valid.length - 1][0];
  const top = Math.max(1, ...valid.map((p) => p[1]));
  const x = (time) => (t1 === t0 ? width / 2 : ((time - t0) / (t1 - t0)) * (width - 4) + 2);
  const y = (value) => height - 2 - (value / top) * (height - 4);
  ctx.strokeStyle = LINE_COLOUR;
  ctx.lineWidth = 2;
  ctx.beginPath();
  valid.forEach(([time, value], i) => (i === 0 ? ctx.moveTo(x(time), y(value)) : ctx.lineTo(x(time), y(value))));
  ctx.stroke();
}

function outcomeBars(canvas, decisions) {
  const { ctx, width, height } = prepare(canvas);
  const outcomes = Object.keys(OUTCOME_COLOURS);
  const top = Math.max(1, ...outcomes.map((o) => Number(decisions[o]) || 0));
  const slot = width / outcomes.length;
  const base = height - 18; // room for the outcome's name under its bar
  ctx.textAlign = "center";
  outcomes.forEach((outcome, i) => {
    const n = Number(decisions[outcome]) || 0;
    const bar = ((base - 18) * n) / top; // and for the count above it
    const centre = i * slot + slot / 2;
    ctx.fillStyle = OUTCOME_COLOURS[outcome];
    ctx.fillRect(i * slot + 6, base - bar, slot - 12, bar);
    ctx.fillStyle = "#d8dee4";
    ctx.font = "bold 13px sans-serif";
    ctx.fillText(String(n), centre, base - bar - 4);
    ctx.font = "11px sans-serif";
    ctx.fillText(t(`outcome.${outcome}`), centre, height - 4);
  });
}
