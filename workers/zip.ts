import { Zip, ZipPassThrough } from 'fflate';
import { FerryError, throwIfAborted } from '../src/core/errors.js';
import { ZIP32_LIMIT } from './protocol.js';

const CHUNK = 8 << 20;

/**
 * Pack files into one zip with stored (uncompressed) entries — tensors barely compress and stored
 * entries keep this a pure copy. Streams each Blob in chunks; the output is a Blob of parts.
 * fflate writes no zip64 records, so archives over 4 GiB are refused with E_LIMIT.
 */
export async function zipStored(files: { name: string; blob: Blob }[], signal?: AbortSignal): Promise<Blob> {
  let total = 0;
  for (const f of files) total += f.blob.size + 30 + 46 + 16 + 2 * new TextEncoder().encode(f.name).length;
  if (total + 22 > ZIP32_LIMIT) {
    throw new FerryError('E_LIMIT', `a zip of ${total} bytes needs zip64, which Ferry does not write; download the files one by one`);
  }
  const parts: Blob[] = [];
  let failure: Error | null = null;
  let done = false;
  const zip = new Zip((err, chunk, final) => {
    if (err) failure = err;
    else parts.push(new Blob([chunk as Uint8Array<ArrayBuffer>]));
    if (final) done = true;
  });
  for (const f of files) {
    const entry = new ZipPassThrough(f.name);
    zip.add(entry);
    if (f.blob.size === 0) entry.push(new Uint8Array(0), true);
    for (let off = 0; off < f.blob.size; off += CHUNK) {
      throwIfAborted(signal, { file: f.name });
      const end = Math.min(f.blob.size, off + CHUNK);
      const bytes = new Uint8Array(await f.blob.slice(off, end).arrayBuffer());
      entry.push(bytes, end === f.blob.size);
      if (failure) break;
    }
    if (failure) break;
  }
  zip.end();
  if (failure) throw new FerryError('E_INTERNAL', `zip failed: ${(failure as Error).message}`);
  if (!done) throw new FerryError('E_INTERNAL', 'zip did not finish');
  return new Blob(parts, { type: 'application/zip' });
}
