// The notes view: the user's notes, newest change first, updated in place by id.

import type { Note } from "../events";
import type { AppState } from "../state";
import { h } from "../../dom";

function changed(note: Note): string {
  return note.updatedAt ?? note.createdAt ?? "";
}

function card(note: Note, state: AppState): HTMLElement {
  const open = state.openNote === note.id;
  const body = note.content.trim();
  return h(
    "article",
    {
      class: ["note", open && "open", state.highlighted.has(note.id) && "highlighted"]
        .filter(Boolean)
        .join(" "),
      "data-id": note.id,
    },
    h("h3", { class: "note-title" }, note.title),
    body ? h("p", { class: "note-content" }, body) : h("p", { class: "note-content empty" }, "(empty)"),
  );
}

export function renderNotes(list: HTMLElement, state: AppState): void {
  const notes = [...state.notes.values()].sort((a, b) => changed(b).localeCompare(changed(a)));
  if (notes.length === 0) {
    const hint = 'No notes yet. Try "create a note called shopping".';
    list.replaceChildren(h("p", { class: "empty-view" }, hint));
    return;
  }
  // Replace each card by id so that a changed note keeps its place in the document.
  const existing = new Map<string, Element>();
  for (const child of list.querySelectorAll(":scope > .note")) {
    existing.set(child.getAttribute("data-id") ?? "", child);
  }
  const cards = notes.map((note) => {
    const fresh = card(note, state);
    const old = existing.get(note.id);
    if (old !== undefined && old.isEqualNode(fresh)) return old;
    return fresh;
  });
  list.replaceChildren(...cards);
}
