// Small DOM helpers shared by the pages (no framework: see web/app/README.md).

export const $ = (id) => document.getElementById(id);

// A new element with an optional class and text (text, never HTML: what the API sends is shown as
// it is, never interpreted).
export function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}
