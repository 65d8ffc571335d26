// Where in the file a key path is: walks the parsed YAML document (not the plain data) so
// every issue can carry the line and column a person needs to fix it.
import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import type { KeyPath, PathSegment } from './path';

/** value: the node at the path; key: the key naming it (unknown or forbidden keys); parent: the mapping that should hold it (missing keys). */
export type Anchor = 'value' | 'key' | 'parent';

export interface Position {
  line: number; // 1-based
  column: number; // 1-based
}

export function locate(doc: Document, lines: LineCounter, path: KeyPath, anchor: Anchor): Position {
  const target = anchor === 'parent' ? path.slice(0, -1) : path;
  let node = resolve(doc, doc.contents);
  let keyNode: Node | undefined;
  let found: Node | undefined = node ?? undefined;
  for (const seg of target) {
    const step = child(doc, node, seg);
    if (step === undefined) {
      keyNode = undefined;
      break; // point at the deepest ancestor that exists
    }
    keyNode = step.key;
    node = step.value;
    found = step.value ?? step.key ?? found;
  }
  const at = anchor === 'key' && keyNode !== undefined ? keyNode : found;
  return positionOf(at, lines);
}

/**
 * The key path of the deepest key or value whose source range holds `offset` (for YAML
 * errors). A key holding the offset is part of the path only if `includeKey`: a duplicate
 * key is the subject of its error, whereas a syntax error inside a key means the parser
 * misread what should have been a value, and its recovered key is noise.
 */
export function pathAtOffset(doc: Document, offset: number, includeKey: boolean): PathSegment[] {
  const path: PathSegment[] = [];
  let node = resolve(doc, doc.contents);
  for (;;) {
    if (isMap(node)) {
      const pair = node.items.find((p) => within(p.key as Node | null, offset) || within(p.value as Node | null, offset));
      if (pair === undefined) return path;
      const inKey = within(pair.key as Node | null, offset);
      if (inKey && !includeKey) return path;
      path.push(keyText(pair.key as Node | null));
      if (inKey) return path;
      node = resolve(doc, pair.value as Node | null);
    } else if (isSeq(node)) {
      const index = node.items.findIndex((item) => within(item as Node | null, offset));
      if (index < 0) return path;
      path.push(index);
      node = resolve(doc, node.items[index] as Node | null);
    } else {
      return path;
    }
  }
}

export function positionAt(offset: number, lines: LineCounter): Position {
  const { line, col } = lines.linePos(offset);
  return { line, column: col };
}

function child(doc: Document, node: Node | null, seg: PathSegment): { key: Node | undefined; value: Node | null } | undefined {
  if (isMap(node)) {
    const pair = node.items.find((p) => keyText(p.key as Node | null) === String(seg));
    if (pair === undefined) return undefined;
    return { key: (pair.key as Node | null) ?? undefined, value: resolve(doc, pair.value as Node | null) };
  }
  if (isSeq(node) && typeof seg === 'number' && seg < node.items.length) {
    return { key: undefined, value: resolve(doc, node.items[seg] as Node | null) };
  }
  return undefined;
}

function resolve(doc: Document, node: Node | null | undefined): Node | null {
  if (node === undefined || node === null) return null;
  return isAlias(node) ? ((node.resolve(doc) as Node | undefined) ?? node) : node;
}

function keyText(key: Node | null): string {
  return isScalar(key) ? String(key.value) : String(key);
}

function within(node: Node | null, offset: number): boolean {
  const range = node?.range;
  return range !== undefined && range !== null && offset >= range[0] && offset < Math.max(range[2], range[0] + 1);
}

function positionOf(node: Node | null | undefined, lines: LineCounter): Position {
  const range = node?.range;
  return range ? positionAt(range[0], lines) : { line: 1, column: 1 };
}
