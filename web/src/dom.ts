// The element builder both pages use. Text always goes in as text nodes: what the bot, Mesh or
// the admin API sends is never parsed as HTML, so a session id, a note or a rejection reason
// cannot inject anything into the page.

type Attrs = Record<string, string | boolean | undefined>;
type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === true) element.setAttribute(name, "");
    else if (typeof value === "string") element.setAttribute(name, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) element.append(child);
  }
  return element;
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`the page has no #${id}`);
  return element as T;
}

/** Sets text only when it changed, so a refresh does not disturb a selection in the element. */
export function setText(element: Element, text: string): void {
  if (element.textContent !== text) element.textContent = text;
}
