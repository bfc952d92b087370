// Building elements without innerHTML: text is always set as text.

/** ``<tag>`` with ``attributes`` (``class``, ``text``, ``on<event>``, booleans as
 * presence) and ``children`` (nodes or strings; null and false are skipped). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, String(value));
  }
  append(node, children);
  return node;
}

export function append(node, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** ``count`` and its noun: "1 like", "2 likes", "3 replies". */
export function plural(count, one, many = `${one}s`) {
  return `${count} ${count === 1 ? one : many}`;
}

/** A hash link to a profile. */
export function profileHref(username) {
  return `#/users/${encodeURIComponent(username)}`;
}

export function hashtagHref(tag) {
  return `#/hashtag/${encodeURIComponent(tag)}`;
}

/** Compare decimal id strings (63-bit Snowflakes: too big for a JS number). */
export function compareIds(a, b) {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
