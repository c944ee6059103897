// What the interface shows, as plain data: the router changes it, the views draw it.
// No DOM here, so the router's tests run in Node.

import type { AppletRef, Note, Profile } from "./events";

/** The views the bot can open and close (`VIEWS` in bot/tools/interface.py). */
export const VIEWS = ["notes", "applets", "profile", "youtube", "settings"] as const;
export type ViewName = (typeof VIEWS)[number];

export function isView(name: string): name is ViewName {
  return (VIEWS as readonly string[]).includes(name);
}

export interface Video {
  query: string;
  kind: "play" | "search";
}

export interface AppState {
  notes: Map<string, Note>;
  /** Notes the bot just listed or found, shown highlighted. */
  highlighted: Set<string>;
  /** The note the bot read out, shown expanded. */
  openNote: string | null;
  applets: Map<string, AppletRef>;
  /** The applet shown in the sandboxed frame. */
  openApplet: string | null;
  views: Set<ViewName>;
  activeView: ViewName | null;
  /** Named windows the bot opened, in order; `focusedWindow` is one of them. */
  windows: string[];
  focusedWindow: string | null;
  video: Video | null;
  profile: Profile | null;
  /** Why the bot is leaving, once it said so. */
  ending: string | null;
  /** The call this page is in, if any. */
  session: { id: string; transport: string } | null;
}

export function initialState(): AppState {
  return {
    notes: new Map(),
    highlighted: new Set(),
    openNote: null,
    applets: new Map(),
    openApplet: null,
    views: new Set(["notes"]),
    activeView: "notes",
    windows: [],
    focusedWindow: null,
    video: null,
    profile: null,
    ending: null,
    session: null,
  };
}

type Listener = (state: AppState) => void;

/** The state and who draws it. `update` changes it and redraws once. */
export class Store {
  readonly state: AppState = initialState();
  private readonly listeners: Listener[] = [];

  subscribe(listener: Listener): void {
    this.listeners.push(listener);
    listener(this.state);
  }

  update(change: (state: AppState) => void): void {
    change(this.state);
    for (const listener of this.listeners) listener(this.state);
  }
}

export function openView(state: AppState, view: ViewName): void {
  state.views.add(view);
  state.activeView = view;
}

export function closeView(state: AppState, view: ViewName): void {
  state.views.delete(view);
  if (state.activeView === view) state.activeView = [...state.views].at(-1) ?? null;
}
