// One session's message box: the type, the text (its label follows the type), the role and
// `respond` for append_context, a send button, and the API's answer to a failed send beside it.

import type { ApiProblem } from "./api";
import { type ComposerFields, type ComposerPart, KIND_ORDER, KINDS, isKind } from "./compose";
import { h } from "../dom";

export type SubmitHandler = (fields: ComposerFields) => void;

let composers = 0;

export function describeProblem(problem: ApiProblem): string {
  switch (problem.status) {
    case 0:
      return problem.message;
    case 401:
    case 403:
      return `Not allowed (${problem.status}): ${problem.message}`;
    case 404:
      return `Not found (404): ${problem.message}`;
    case 409:
      return `Too late (409): ${problem.message}`;
    case 422:
      return `Invalid (422): ${problem.message}`;
    case 429:
      return `Queue full (429): ${problem.message}. Wait for the bot to catch up, then send again.`;
    default:
      return `Error ${problem.status}: ${problem.message}`;
  }
}

export class Composer {
  readonly element: HTMLFormElement;
  private readonly kind: HTMLSelectElement;
  private readonly text: HTMLTextAreaElement;
  private readonly textLabel: HTMLLabelElement;
  private readonly role: HTMLSelectElement;
  private readonly roleLabel: HTMLLabelElement;
  private readonly respond: HTMLInputElement;
  private readonly respondLabel: HTMLLabelElement;
  private readonly send: HTMLButtonElement;
  private readonly error: HTMLParagraphElement;
  /** Kept until the API answers or the fields change, so a resend after a lost answer is one message. */
  private key: string | null = null;
  private closed = false;

  constructor(onSubmit: SubmitHandler) {
    const n = ++composers;
    const ids = { kind: `op-kind-${n}`, text: `op-text-${n}`, role: `op-role-${n}` };
    this.kind = h("select", { id: ids.kind, "data-part": "kind" });
    for (const kind of KIND_ORDER) this.kind.append(h("option", { value: kind }, kind));
    this.text = h("textarea", { id: ids.text, rows: "1", "data-part": "text" });
    this.textLabel = h("label", { for: ids.text });
    this.role = h("select", { id: ids.role, "data-part": "role" });
    for (const role of ["system", "user"])
      this.role.append(h("option", { value: role }, role));
    this.roleLabel = h("label", { class: "op-field" }, "Role ", this.role);
    this.respond = h("input", { type: "checkbox", "data-part": "respond" });
    this.respond.checked = true;
    this.respondLabel = h("label", { class: "op-check" }, this.respond, " answer it");
    this.send = h("button", { class: "op-send", type: "submit" }, "Send");
    this.error = h("p", { class: "op-error", role: "alert", "aria-live": "polite" });

    this.element = h(
      "form",
      { class: "op-composer", novalidate: "" },
      h("label", { class: "op-field" }, "Message ", this.kind),
      h("div", { class: "op-text" }, this.textLabel, this.text),
      this.roleLabel,
      this.respondLabel,
      this.send,
      this.error,
    );
    this.element.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!this.send.disabled) onSubmit(this.fields());
    });
    this.text.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        this.element.requestSubmit();
      }
    });
    for (const input of [this.kind, this.text, this.role, this.respond]) {
      input.addEventListener("input", () => {
        this.key = null;
        this.sync();
      });
    }
    this.sync();
  }

  fields(): ComposerFields {
    const kind = isKind(this.kind.value) ? this.kind.value : "say";
    const role = this.role.value === "user" ? "user" : "system";
    return { kind, text: this.text.value, role, respond: this.respond.checked };
  }

  /** The idempotency key of this attempt: the same until the API answers or the text changes. */
  attemptKey(): string {
    this.key ??= crypto.randomUUID();
    return this.key;
  }

  setBusy(busy: boolean): void {
    this.send.disabled = busy || this.closed;
    this.send.textContent = busy ? "Sending…" : "Send";
  }

  /** The API answered (either way): the next send is a new message. */
  answered(): void {
    this.key = null;
  }

  sent(): void {
    this.answered();
    this.clearProblem();
    this.text.value = "";
    this.sync();
  }

  showProblem(message: string, part: ComposerPart | null): void {
    this.clearProblem();
    this.error.textContent = message;
    const target = part ? this.partElement(part) : null;
    if (target) {
      target.setAttribute("aria-invalid", "true");
      target.focus();
    }
  }

  clearProblem(): void {
    this.error.textContent = "";
    for (const part of [this.kind, this.text, this.role, this.respond]) part.removeAttribute("aria-invalid");
  }

  close(): void {
    this.closed = true;
    for (const part of [this.kind, this.text, this.role, this.respond, this.send]) part.disabled = true;
  }

  private partElement(part: ComposerPart): HTMLElement {
    return { kind: this.kind, text: this.text, role: this.role, respond: this.respond }[part];
  }

  private sync(): void {
    const fields = this.fields();
    const spec = KINDS[fields.kind];
    this.text.parentElement?.toggleAttribute("hidden", spec.text === "none");
    this.textLabel.textContent = spec.textLabel;
    this.text.placeholder = spec.placeholder;
    this.roleLabel.hidden = !spec.roles;
    this.respondLabel.hidden = !spec.roles || fields.role !== "user";
  }
}
