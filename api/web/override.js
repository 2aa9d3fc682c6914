// The override dialog: an operator changes a decision only with a written reason (journalled with their name).
// The submit button stays disabled until the reason has at least 3 characters, the same rule the server and
// control/operator_actions.py enforce; the server's refusal (409, 422) is shown in the dialog in its own words.

import { t } from "./i18n.js";

const MIN_REASON_CHARS = 3;

export class OverrideDialog {
  constructor(doc, send) {
    this.send = send; // async (passageId, action, reason) -> void; throws ApiError when refused
    this.dialog = doc.getElementById("override-dialog");
    this.form = doc.getElementById("override-form");
    this.title = doc.getElementById("override-title");
    this.context = doc.getElementById("override-context");
    this.reason = doc.getElementById("override-reason");
    this.error = doc.getElementById("override-error");
    this.submit = doc.getElementById("override-submit");
    this.pending = null;
    this.reason.addEventListener("input", () => this.validate());
    this.form.addEventListener("submit", (event) => this.onSubmit(event));
    doc.getElementById("override-cancel").addEventListener("click", () => this.close());
  }

  /** Ask for a reason to apply action to the lane's current passage; resolves nothing, reports by onDone. */
  open(lane, action, target, onDone) {
    this.pending = { lane, action, target, onDone };
    this.title.textContent = t("dialog.title", { action: t(`action.${action}`), lane: lane.info.lane_id });
    const plates = (target.passage && target.passage.plates) || [];
    this.context.textContent = t("dialog.passage", {
      passage: target.decision.passage_id,
      plate: plates.map((plate) => plate.text).join(", ") || "?",
      outcome: t(`outcome.${target.decision.outcome}`),
    });
    this.reason.value = "";
    this.error.textContent = "";
    this.validate();
    this.dialog.showModal();
    this.reason.focus();
  }

  validate() {
    this.submit.disabled = this.reason.value.trim().length < MIN_REASON_CHARS;
  }

  async onSubmit(event) {
    event.preventDefault();
    if (this.pending === null || this.submit.disabled) return;
    const { lane, action, target, onDone } = this.pending;
    this.submit.disabled = true;
    try {
      await this.send(target.decision.passage_id, action, this.reason.value.trim());
      this.close();
      onDone(t("dialog.sent", { action: t(`action.${action}`), lane: lane.info.lane_id }));
    } catch (error) {
      const key = error.status === 409 || error.status === 422 ? "dialog.refused" : "dialog.error";
      this.error.textContent = t(key, { detail: error.detail ?? error.message });
      this.validate();
    }
  }

  close() {
    this.pending = null;
    if (this.dialog.open) this.dialog.close();
  }
}
