// Labels of the control room in Vietnamese (the officers' language, the default) and English.
// Every fixed text of the page lives here, so a translator edits one file. Static elements name their label
// with data-i18n="key" (text) or data-i18n-placeholder / data-i18n-title; dynamic text calls t(key, values).

const LABELS = {
  vi: {
    "app.title": "SmartGate — Phòng điều khiển",
    "app.subtitle": "Cửa khẩu thông minh",
    "lang.switch": "EN",
    "lang.switch.title": "Switch to English",
    "login.title": "Đăng nhập",
    "login.user": "Tên đăng nhập",
    "login.pass": "Mật khẩu",
    "login.submit": "Đăng nhập",
    "login.failed": "Sai tên đăng nhập hoặc mật khẩu",
    "login.refused": "Đăng nhập bị từ chối: {detail}",
    "login.busy": "Quá nhiều lần thử, vui lòng đợi",
    "login.error": "Không kết nối được máy chủ",
    "logout": "Đăng xuất",
    "role.viewer": "Quan sát viên",
    "role.operator": "Cán bộ vận hành",
    "role.admin": "Quản trị",
    "conn.live": "TRỰC TIẾP",
    "conn.connecting": "ĐANG KẾT NỐI…",
    "conn.stale": "MẤT KẾT NỐI",
    "stale.banner": "DỮ LIỆU CŨ — mất kết nối trực tiếp, đang kết nối lại. Không dùng thông tin trên màn hình để ra quyết định.",
    "stale.badge": "CŨ",
    "lanes.title": "Làn xe",
    "lane.in": "Làn vào",
    "lane.out": "Làn ra",
    "lane.queue": "Hàng chờ: {n}",
    "lane.fps": "{fps} khung/giây",
    "lane.reader_down": "Đầu đọc ngừng",
    "lane.no_passage": "Chưa có xe",
    "lane.plates": "Biển số",
    "lane.containers": "Container",
    "lane.seals": "Niêm phong",
    "lane.none": "—",
    "lane.decision": "Quyết định",
    "lane.no_decision": "Chờ quyết định",
    "lane.decision_meta": "Tờ khai {declaration} · độ tin cậy {confidence}%",
    "lane.no_declaration_meta": "Không có tờ khai · độ tin cậy {confidence}%",
    "lane.override_by": "Ghi đè bởi {operator}: {reason}",
    "lane.evidence": "Ảnh cắt",
    "check.ok": "Số kiểm tra đúng",
    "check.bad": "Số kiểm tra sai",
    "seal.present": "Có",
    "seal.absent": "Không có",
    "seal.unknown": "Không rõ",
    "outcome.OPEN": "MỞ",
    "outcome.HOLD": "GIỮ",
    "outcome.INSPECT": "KIỂM TRA",
    "outcome.REJECT": "TỪ CHỐI",
    "barrier.label": "Barie",
    "barrier.closed": "Đóng",
    "barrier.opening": "Đang mở",
    "barrier.open": "Mở",
    "barrier.closing": "Đang đóng",
    "barrier.fault": "Lỗi",
    "barrier.unknown": "Không rõ",
    "action.OVERRIDE_OPEN": "Mở",
    "action.OVERRIDE_HOLD": "Giữ",
    "action.OVERRIDE_INSPECT": "Kiểm tra",
    "dialog.title": "{action} — làn {lane}",
    "dialog.passage": "Lượt xe {passage} ({plate}), quyết định hiện tại: {outcome}",
    "dialog.reason": "Lý do (bắt buộc, ít nhất 3 ký tự)",
    "dialog.submit": "Xác nhận",
    "dialog.cancel": "Hủy",
    "dialog.sent": "Đã gửi lệnh {action} cho làn {lane}",
    "dialog.refused": "Bị từ chối: {detail}",
    "dialog.error": "Lỗi gửi lệnh: {detail}",
    "dialog.unanswered": "Lệnh {action} cho làn {lane} chưa được hệ thống thông quan thực hiện — kiểm tra lại",
    "dialog.done": "Làn {lane}: đã thực hiện {outcome} cho lượt xe {passage}",
    "yard.title": "Bản đồ bãi",
    "yard.queues": "Hàng chờ",
    "yard.legend.empty": "Trống",
    "yard.legend.container": "Container",
    "yard.legend.truck": "Xe tải",
    "yard.legend.igv": "IGV",
    "yard.legend.unknown": "Không rõ",
    "kpi.title": "Chỉ số",
    "kpi.trucks_per_hour": "Xe/giờ",
    "kpi.time_at_gate": "Thời gian tại cổng (p50 / p95)",
    "kpi.queue_length": "Hàng chờ",
    "kpi.decisions": "Quyết định",
    "alerts.title": "Cảnh báo",
    "alerts.none": "Không có cảnh báo",
    "alert.seal_missing": "Thiếu niêm phong",
    "alert.mismatch": "Không khớp",
    "alert.barrier_fault": "Lỗi barie",
    "alert.igv_fault": "Lỗi IGV",
    "alert.reader_down": "Đầu đọc ngừng",
    "unit.s": "{n} giây",
  },
  en: {
    "app.title": "SmartGate — Control room",
    "app.subtitle": "Smart border gate",
    "lang.switch": "VI",
    "lang.switch.title": "Chuyển sang tiếng Việt",
    "login.title": "Sign in",
    "login.user": "User name",
    "login.pass": "Password",
    "login.submit": "Sign in",
    "login.failed": "Wrong user name or password",
    "login.refused": "Sign-in refused: {detail}",
    "login.busy": "Too many attempts, please wait",
    "login.error": "Cannot reach the server",
    "logout": "Sign out",
    "role.viewer": "Viewer",
    "role.operator": "Operator",
    "role.admin": "Administrator",
    "conn.live": "LIVE",
    "conn.connecting": "CONNECTING…",
    "conn.stale": "DISCONNECTED",
    "stale.banner": "STALE DATA — the live link is lost, reconnecting. Do not act on what this screen shows.",
    "stale.badge": "STALE",
    "lanes.title": "Lanes",
    "lane.in": "Inbound lane",
    "lane.out": "Outbound lane",
    "lane.queue": "Queue: {n}",
    "lane.fps": "{fps} fps",
    "lane.reader_down": "Reader down",
    "lane.no_passage": "No truck yet",
    "lane.plates": "Plates",
    "lane.containers": "Containers",
    "lane.seals": "Seals",
    "lane.none": "—",
    "lane.decision": "Decision",
    "lane.no_decision": "Awaiting decision",
    "lane.decision_meta": "Declaration {declaration} · confidence {confidence}%",
    "lane.no_declaration_meta": "No declaration · confidence {confidence}%",
    "lane.override_by": "Overridden by {operator}: {reason}",
    "lane.evidence": "Crops",
    "check.ok": "Check digit correct",
    "check.bad": "Check digit wrong",
    "seal.present": "Present",
    "seal.absent": "Absent",
    "seal.unknown": "Unknown",
    "outcome.OPEN": "OPEN",
    "outcome.HOLD": "HOLD",
    "outcome.INSPECT": "INSPECT",
    "outcome.REJECT": "REJECT",
    "barrier.label": "Barrier",
    "barrier.closed": "Closed",
    "barrier.opening": "Opening",
    "barrier.open": "Open",
    "barrier.closing": "Closing",
    "barrier.fault": "Fault",
    "barrier.unknown": "Unknown",
    "action.OVERRIDE_OPEN": "Approve",
    "action.OVERRIDE_HOLD": "Hold",
    "action.OVERRIDE_INSPECT": "Inspect",
    "dialog.title": "{action} — lane {lane}",
    "dialog.passage": "Passage {passage} ({plate}), current decision: {outcome}",
    "dialog.reason": "Reason (required, at least 3 characters)",
    "dialog.submit": "Confirm",
    "dialog.cancel": "Cancel",
    "dialog.sent": "{action} sent for lane {lane}",
    "dialog.refused": "Refused: {detail}",
    "dialog.error": "Could not send: {detail}",
    "dialog.unanswered": "Clearance has not carried out {action} for lane {lane} yet — check again",
    "dialog.done": "Lane {lane}: {outcome} carried out for passage {passage}",
    "yard.title": "Yard map",
    "yard.queues": "Queues",
    "yard.legend.empty": "Empty",
    "yard.legend.container": "Container",
    "yard.legend.truck": "Truck",
    "yard.legend.igv": "IGV",
    "yard.legend.unknown": "Unknown",
    "kpi.title": "KPIs",
    "kpi.trucks_per_hour": "Trucks/hour",
    "kpi.time_at_gate": "Time at gate (p50 / p95)",
    "kpi.queue_length": "Queue",
    "kpi.decisions": "Decisions",
    "alerts.title": "Alerts",
    "alerts.none": "No alerts",
    "alert.seal_missing": "Seal missing",
    "alert.mismatch": "Mismatch",
    "alert.barrier_fault": "Barrier fault",
    "alert.igv_fault": "IGV fault",
    "alert.reader_down": "Reader down",
    "unit.s": "{n} s",
  },
};

export const LANGUAGES = Object.freeze(["vi", "en"]);
const STORAGE_KEY = "smartgate.lang";
let current = readStoredLanguage();

function readStoredLanguage() {
  try {
    const stored = localStorage.getItem(STORAGE_KEY);
    return LANGUAGES.includes(stored) ? stored : "vi";
  } catch {
    return "vi"; // storage may be disabled; Vietnamese stays the default
  }
}

/** The language in use: "vi" or "en". */
export function language() {
  return current;
}

/** Switch language, remember it for the next visit, and relabel the static parts of the page. */
export function setLanguage(lang) {
  if (!LANGUAGES.includes(lang)) return;
  current = lang;
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // not remembered: harmless
  }
  applyLabels(document);
}

/** The label for key in the current language, with {name} placeholders filled from values. */
export function t(key, values = {}) {
  const text = LABELS[current][key] ?? LABELS.vi[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

/** Pick the text of a bilingual server object ({en, vi} or {text_en, text_vi}) in the current language. */
export function pick(item, base = "") {
  const prefix = base ? `${base}_` : "";
  return item[`${prefix}${current}`] ?? item[`${prefix}en`] ?? "";
}

/** Relabel every element under root that names a label with data-i18n attributes. */
export function applyLabels(root) {
  document.documentElement.lang = current;
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
}
