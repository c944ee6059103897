// What the composer's fields become as an admin message. The admin function checks every field
// (and answers 422 naming it); here only what an operator could not mean is caught before sending:
// a message that needs text and has none.

export type MessageKind = "say" | "append_context" | "update_prompts" | "reload_context" | "end_session";
export type Role = "system" | "user";

export interface ComposerFields {
  kind: MessageKind;
  text: string;
  role: Role;
  respond: boolean;
}

/** The parts of the composer an error can point at. */
export type ComposerPart = "kind" | "text" | "role" | "respond";

interface KindSpec {
  /** How the text box is used: needed, optional, or hidden. */
  text: "required" | "optional" | "none";
  textLabel: string;
  placeholder: string;
  roles: boolean;
}

export const KINDS: Record<MessageKind, KindSpec> = {
  say: {
    text: "required",
    textLabel: "Text to say",
    placeholder: "The bot speaks this now",
    roles: false,
  },
  append_context: {
    text: "required",
    textLabel: "Context to add",
    placeholder: "Added to the conversation",
    roles: true,
  },
  update_prompts: {
    text: "none",
    textLabel: "",
    placeholder: "",
    roles: false,
  },
  reload_context: {
    text: "none",
    textLabel: "",
    placeholder: "",
    roles: false,
  },
  end_session: {
    text: "optional",
    textLabel: "Goodbye (optional)",
    placeholder: "The bot's own goodbye if empty",
    roles: false,
  },
};

export const KIND_ORDER: readonly MessageKind[] = [
  "say",
  "append_context",
  "update_prompts",
  "reload_context",
  "end_session",
];

export function isKind(value: string): value is MessageKind {
  return Object.hasOwn(KINDS, value);
}

export type Built =
  { ok: true; message: Record<string, unknown> } | { ok: false; part: ComposerPart; message: string };

export function buildMessage(fields: ComposerFields): Built {
  const spec = KINDS[fields.kind];
  const text = fields.text.trim();
  if (spec.text === "required" && !text) {
    const what = fields.kind === "say" ? "what the bot should say" : "the context to add";
    return { ok: false, part: "text", message: `Type ${what}.` };
  }
  switch (fields.kind) {
    case "say":
      return { ok: true, message: { type: "say", text } };
    case "append_context": {
      const message: Record<string, unknown> = { type: "append_context", content: text, role: fields.role };
      // A user message is answered unless told not to; a system message never is.
      if (fields.role === "user" && !fields.respond) message.respond = false;
      return { ok: true, message };
    }
    case "end_session":
      return { ok: true, message: text ? { type: "end_session", text } : { type: "end_session" } };
    case "update_prompts":
    case "reload_context":
      return { ok: true, message: { type: fields.kind } };
  }
}

/** Which part of the composer a 422's field (`message.text`, `message.role`) is about. */
export function partOf(field: string | undefined): ComposerPart | null {
  switch (field) {
    case "message.text":
    case "message.content":
      return "text";
    case "message.role":
      return "role";
    case "message.respond":
      return "respond";
    case "message.type":
    case "message":
      return "kind";
    default:
      return null;
  }
}

/** One line that says what a sent message was, for the status list. */
export function summarize(message: Record<string, unknown>, max = 60): string {
  const type = String(message.type ?? "");
  const body =
    typeof message.text === "string"
      ? message.text
      : typeof message.content === "string"
        ? message.content
        : "";
  if (!body) return type;
  const short = body.length > max ? body.slice(0, max - 1) + "…" : body;
  const role = type === "append_context" ? ` (${String(message.role)})` : "";
  return `${type}${role}: “${short}”`;
}
