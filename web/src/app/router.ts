// The event router (the seed's niaEventRouter): one handler per tool event type. A handler
// changes the interface's state and says what happened; the views redraw from the state.
// Unknown or malformed events are logged and dropped: a newer bot never breaks the page.

import { type EventData, type EventName, isEventName, parseData } from "./events";
import { closeView, isView, openView, type Store } from "./state";

export interface RouterContext {
  store: Store;
  notify(text: string): void;
  /** Reload notes from Mesh: an event named a note this page has not seen yet. */
  refreshNotes(): void;
  log: Pick<Console, "warn">;
}

type Handler<K extends EventName> = (data: EventData[K], ctx: RouterContext) => void;

function noteTitle(ctx: RouterContext, id: string): string {
  return ctx.store.state.notes.get(id)?.title ?? id;
}

function showApplet(ctx: RouterContext, data: EventData["applet.opened"]): void {
  ctx.store.update((s) => {
    s.applets.set(data.id, { id: data.id, title: data.title });
    s.openApplet = data.id;
    openView(s, "applets");
  });
}

function showVideo(ctx: RouterContext, query: string, kind: "play" | "search"): void {
  ctx.store.update((s) => {
    s.video = { query, kind };
    openView(s, "youtube");
  });
  ctx.notify(kind === "play" ? `YouTube: would play "${query}"` : `YouTube: search "${query}"`);
}

function focusWindow(ctx: RouterContext, window: string): void {
  ctx.store.update((s) => {
    if (!s.windows.includes(window)) s.windows.push(window);
    s.focusedWindow = window;
    if (isView(window)) openView(s, window);
  });
}

export const HANDLERS: { [K in EventName]: Handler<K> } = {
  "note.created": (note, ctx) => {
    ctx.store.update((s) => {
      s.notes.set(note.id, note);
      s.openNote = note.id;
      openView(s, "notes");
    });
    ctx.notify(`Note created: ${note.title}`);
  },
  "note.updated": (note, ctx) => {
    ctx.store.update((s) => {
      s.notes.set(note.id, note);
      openView(s, "notes");
    });
    ctx.notify(`Note updated: ${note.title}`);
  },
  "note.deleted": ({ id }, ctx) => {
    const title = noteTitle(ctx, id);
    ctx.store.update((s) => {
      s.notes.delete(id);
      s.highlighted.delete(id);
      if (s.openNote === id) s.openNote = null;
    });
    ctx.notify(`Note deleted: ${title}`);
  },
  "notes.listed": ({ ids }, ctx) => {
    ctx.store.update((s) => {
      s.highlighted = new Set(ids);
      openView(s, "notes");
    });
    if (ids.some((id) => !ctx.store.state.notes.has(id))) ctx.refreshNotes();
    ctx.notify(ids.length === 0 ? "No notes found" : `Found ${ids.length} note(s)`);
  },
  "note.opened": ({ id }, ctx) => {
    ctx.store.update((s) => {
      s.openNote = id;
      openView(s, "notes");
    });
    if (!ctx.store.state.notes.has(id)) ctx.refreshNotes();
    ctx.notify(`Opened note: ${noteTitle(ctx, id)}`);
  },
  "view.opened": ({ view }, ctx) => {
    if (!isView(view)) return ctx.log.warn(`no view named "${view}"`);
    ctx.store.update((s) => openView(s, view));
  },
  "view.closed": ({ view }, ctx) => {
    if (!isView(view)) return ctx.log.warn(`no view named "${view}"`);
    ctx.store.update((s) => closeView(s, view));
  },
  "applet.created": (applet, ctx) => {
    showApplet(ctx, applet);
    ctx.notify(`Applet created: ${applet.title}`);
  },
  "applet.opened": (applet, ctx) => {
    showApplet(ctx, applet);
    ctx.notify(`Opened applet: ${applet.title}`);
  },
  "youtube.play": ({ query }, ctx) => showVideo(ctx, query, "play"),
  "youtube.search": ({ query }, ctx) => showVideo(ctx, query, "search"),
  "profile.updated": (profile, ctx) => {
    ctx.store.update((s) => {
      s.profile = profile;
    });
    ctx.notify(`Profile updated${profile.displayName ? `: ${profile.displayName}` : ""}`);
  },
  // A window named like a view is that view; any other name is a window of its own.
  "window.opened": ({ window }, ctx) => focusWindow(ctx, window),
  "window.focused": ({ window }, ctx) => focusWindow(ctx, window),
  "window.closed": ({ window }, ctx) => {
    ctx.store.update((s) => {
      s.windows = s.windows.filter((w) => w !== window);
      if (s.focusedWindow === window) s.focusedWindow = s.windows.at(-1) ?? null;
      if (isView(window)) closeView(s, window);
    });
  },
  "call.ending": ({ reason }, ctx) => {
    ctx.store.update((s) => {
      s.ending = reason || "the call is over";
    });
    ctx.notify("The bot is leaving the call");
  },
};

function dispatch<K extends EventName>(name: K, raw: unknown, ctx: RouterContext): void {
  const handler: Handler<K> = HANDLERS[name];
  handler(parseData(name, raw), ctx);
}

/** Route one server message; true if a handler took it. */
export function routeEvent(message: unknown, ctx: RouterContext): boolean {
  if (message === null || typeof message !== "object" || !("type" in message)) {
    ctx.log.warn("ignored a server message that is not an event", message);
    return false;
  }
  const { type, data } = message as { type: unknown; data?: unknown };
  if (!isEventName(type)) {
    ctx.log.warn(`ignored an event of unknown type "${String(type)}"`);
    return false;
  }
  try {
    dispatch(type, data, ctx);
  } catch (error) {
    ctx.log.warn(`ignored a malformed "${type}" event: ${(error as Error).message}`);
    return false;
  }
  return true;
}
