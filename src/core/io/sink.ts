/** Where converters write: one sink per output file, written sequentially, then closed. */
export interface ByteSink {
  readonly name: string;
  readonly bytesWritten: number;
  write(chunk: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

export type SinkFactory = (name: string) => Promise<ByteSink>;

/** An output file collected in memory as Blob parts (browser: the Blob may be backed by disk). */
export interface CollectedFile {
  name: string;
  blob: Blob;
}

/** Collects written files as Blobs (used in workers for downloads, and in tests). */
export class BlobSinkCollector {
  readonly files: CollectedFile[] = [];

  readonly factory: SinkFactory = (name) => {
    // Each chunk becomes its own Blob at once (the Blob copies it, so callers may reuse their buffers);
    // the final Blob references those parts without another copy.
    const parts: Blob[] = [];
    let written = 0;
    const sink: ByteSink = {
      name,
      get bytesWritten() {
        return written;
      },
      write: (chunk) => {
        parts.push(new Blob([chunk as Uint8Array<ArrayBuffer>]));
        written += chunk.byteLength;
        return Promise.resolve();
      },
      close: () => {
        this.files.push({ name, blob: new Blob(parts) });
        parts.length = 0;
        return Promise.resolve();
      },
    };
    return Promise.resolve(sink);
  };
}
