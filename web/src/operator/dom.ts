// Element building without innerHTML: everything the API says is set as text, never parsed as
// markup, so a session id or a rejection reason cannot inject anything into the page.

type Child = Node | string | null | undefined | false;

export interface Props {
  class?: string;
  text?: string;
  attrs?: Record<string, string>;
}

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (props.class) element.className = props.class;
  if (props.text !== undefined) element.textContent = props.text;
  for (const [name, value] of Object.entries(props.attrs ?? {})) element.setAttribute(name, value);
  for (const child of children) {
    if (child) element.append(child);
  }
  return element;
}

/** Sets text only when it changed, so a refresh does not disturb a selection in the cell. */
export function setText(element: Element, text: string): void {
  if (element.textContent !== text) element.textContent = text;
}
