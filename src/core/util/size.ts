import { FerryError } from '../errors.js';

/**
 * Parse a size like Hugging Face's `convert_file_size_to_int`: "50MB" = 50·10⁶ bytes, "50MiB" = 50·2²⁰,
 * "5GB", "100KB", "1.5GB"; a lower-case "b" suffix ("5Gb") means bits. A bare number is bytes.
 */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(i?)([Bb]?)\s*$/i.exec(text);
  if (!m) throw new FerryError('E_ARGUMENT', `cannot parse size '${text}' (examples: 50MB, 2GB, 500MiB, 1048576)`);
  const [, num, unit = '', bin = '', b = ''] = m;
  const pow = { '': 0, K: 1, M: 2, G: 3, T: 4 }[unit.toUpperCase() as '' | 'K' | 'M' | 'G' | 'T'];
  const base = bin ? 1024 : 1000;
  let bytes = Number(num) * base ** pow;
  if (b === 'b' && unit !== '') bytes /= 8;
  bytes = Math.floor(bytes);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new FerryError('E_ARGUMENT', `size '${text}' is out of range`);
  return bytes;
}

export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  do {
    v /= 1000;
    i++;
  } while (v >= 1000 && i < units.length - 1);
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}
