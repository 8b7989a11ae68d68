/** Building DOM from data safely: text goes in as text nodes, never as HTML. */

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | ((ev: Event) => void)>;

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs | null = null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (typeof v === 'function') node.addEventListener(k.replace(/^on/, ''), v);
      else if (k === 'class') node.className = String(v);
      else node.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(node, children);
  return node;
}

export function append(node: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    node.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

/** A <details> whose body is built only when first opened (500 sub-calls stay cheap until someone looks). */
export function lazyDetails(summary: Child[], build: () => Child[], opts: { open?: boolean; cls?: string } = {}): HTMLDetailsElement {
  const d = el('details', { class: opts.cls ?? null }, el('summary', null, ...summary));
  let built = false;
  const fill = () => {
    if (built) return;
    built = true;
    append(d, build());
  };
  d.addEventListener('toggle', () => d.open && fill());
  if (opts.open) {
    d.open = true;
    fill();
  }
  return d;
}

export function pre(text: string, cls = ''): HTMLPreElement {
  return el('pre', { class: cls || null }, text);
}
