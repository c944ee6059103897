// The bot's tool events, as `bot/tools/*.py` emit them: `{"type": NAME, "data": {...}}`.
// EVENT_NAMES mirrors `bot/interface_events.py` (tests/bot/test_interface_events.py fails when
// they differ), and the router's handler table is typed by it, so a new name cannot go unhandled.

export const EVENT_NAMES = [
  "note.created",
  "note.updated",
  "note.deleted",
  "notes.listed",
  "note.opened",
  "view.opened",
  "view.closed",
  "applet.created",
  "applet.opened",
  "youtube.play",
  "youtube.search",
  "profile.updated",
  "window.opened",
  "window.focused",
  "window.closed",
  "call.ending",
] as const;

export type EventName = (typeof EVENT_NAMES)[number];

export interface Note {
  id: string;
  title: string;
  content: string;
  createdAt?: string;
  updatedAt?: string;
}

export interface AppletRef {
  id: string;
  title: string;
}

export interface Profile {
  userId?: string;
  displayName: string | null;
  preferences: Record<string, unknown>;
}

/** What each event carries (read off the tools that send it). */
export interface EventData {
  "note.created": Note;
  "note.updated": Note;
  "note.deleted": { id: string };
  "notes.listed": { ids: string[] };
  "note.opened": { id: string };
  "view.opened": { view: string };
  "view.closed": { view: string };
  "applet.created": AppletRef;
  "applet.opened": AppletRef;
  "youtube.play": { query: string };
  "youtube.search": { query: string };
  "profile.updated": Profile;
  "window.opened": { window: string };
  "window.focused": { window: string };
  "window.closed": { window: string };
  "call.ending": { reason: string };
}

export class BadEvent extends Error {}

type Fields = Record<string, unknown>;

function str(data: Fields, key: string, optional = false): string {
  const value = data[key];
  if (typeof value === "string") return value;
  if (optional && (value === undefined || value === null)) return "";
  throw new BadEvent(`"${key}" must be a string`);
}

function note(data: Fields): Note {
  return {
    id: str(data, "id"),
    title: str(data, "title"),
    content: str(data, "content", true),
    createdAt: str(data, "createdAt", true) || undefined,
    updatedAt: str(data, "updatedAt", true) || undefined,
  };
}

function profile(data: Fields): Profile {
  const prefs = data["preferences"];
  const displayName = data["displayName"];
  return {
    userId: str(data, "userId", true) || undefined,
    displayName: typeof displayName === "string" ? displayName : null,
    preferences:
      prefs !== null && typeof prefs === "object" && !Array.isArray(prefs)
        ? (prefs as Record<string, unknown>)
        : {},
  };
}

function ids(data: Fields): { ids: string[] } {
  const value = data["ids"];
  if (!Array.isArray(value) || !value.every((id) => typeof id === "string")) {
    throw new BadEvent(`"ids" must be a list of strings`);
  }
  return { ids: value as string[] };
}

// The bot is ours, but what it sends is shaped by an LLM: check before the views trust it.
const PARSERS: { [K in EventName]: (data: Fields) => EventData[K] } = {
  "note.created": note,
  "note.updated": note,
  "note.deleted": (d) => ({ id: str(d, "id") }),
  "notes.listed": ids,
  "note.opened": (d) => ({ id: str(d, "id") }),
  "view.opened": (d) => ({ view: str(d, "view") }),
  "view.closed": (d) => ({ view: str(d, "view") }),
  "applet.created": (d) => ({ id: str(d, "id"), title: str(d, "title") }),
  "applet.opened": (d) => ({ id: str(d, "id"), title: str(d, "title") }),
  "youtube.play": (d) => ({ query: str(d, "query") }),
  "youtube.search": (d) => ({ query: str(d, "query") }),
  "profile.updated": profile,
  "window.opened": (d) => ({ window: str(d, "window") }),
  "window.focused": (d) => ({ window: str(d, "window") }),
  "window.closed": (d) => ({ window: str(d, "window") }),
  "call.ending": (d) => ({ reason: str(d, "reason", true) }),
};

export function isEventName(name: unknown): name is EventName {
  return typeof name === "string" && Object.hasOwn(PARSERS, name);
}

export function parseData<K extends EventName>(name: K, data: unknown): EventData[K] {
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new BadEvent("data must be an object");
  }
  return PARSERS[name](data as Fields);
}
