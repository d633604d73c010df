/**
 * A tiny scanner over JSON text that JSON.parse has already accepted. JSON.parse silently keeps the last
 * of duplicate keys and reorders integer-like keys ("0", "12") before all others; this recovers what the
 * text really says: the top-level keys in order of appearance, and the first duplicate key in any object.
 */

export interface JsonKeyScan {
  /** Keys of the top-level object, in the order they appear in the text. */
  topLevelKeys: string[];
  /** Character index of each top-level key's opening quote (parallel to topLevelKeys). */
  topLevelIndex: number[];
  /** The first key declared twice in the same object (any depth), with its character index. */
  duplicate?: { key: string; index: number; path: string[] } | undefined;
}

interface Frame {
  obj: boolean;
  expectKey: boolean;
  keys: Set<string> | undefined;
  /** Key of this frame in its parent object (for error paths). */
  name: string;
}

/** `text` must be valid JSON (call JSON.parse first). */
export function scanJsonKeys(text: string): JsonKeyScan {
  const stack: Frame[] = [];
  const topLevelKeys: string[] = [];
  const topLevelIndex: number[] = [];
  let lastKey = '';
  let duplicate: JsonKeyScan['duplicate'];
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      const parent = stack[stack.length - 1];
      const obj = c === 0x7b;
      stack.push({ obj, expectKey: obj, keys: obj ? new Set() : undefined, name: parent?.obj ? lastKey : '' });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top?.obj) top.expectKey = true;
    } else if (c === 0x22 /* " */) {
      const start = i;
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i += 2;
        else if (d === 0x22) break;
        else i++;
      }
      const top = stack[stack.length - 1];
      if (top?.obj && top.expectKey) {
        const key = JSON.parse(text.slice(start, i + 1)) as string;
        top.expectKey = false;
        lastKey = key;
        if (top.keys?.has(key)) {
          duplicate ??= { key, index: start, path: [...stack.slice(1).map((f) => f.name), key] };
        }
        top.keys?.add(key);
        if (stack.length === 1) {
          topLevelKeys.push(key);
          topLevelIndex.push(start);
        }
      }
    }
  }
  return { topLevelKeys, topLevelIndex, duplicate };
}

/** UTF-8 byte length of text[0, index) — to turn a character index into a file offset. */
export function utf8Offset(text: string, index: number): number {
  return new TextEncoder().encode(text.slice(0, index)).byteLength;
}
