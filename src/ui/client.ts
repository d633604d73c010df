/**
 * Main-thread handle on the Ferry worker: comlink-wrapped, every call unwrapped so that failures
 * arrive as typed FerryErrors (code, file, offset, tensor). If the worker dies (uncaught error,
 * failed module load), pending calls reject with E_INTERNAL and a fresh worker is started for the next call.
 */
import * as Comlink from 'comlink';
import { FerryError } from '../core/errors.js';
import type {
  CheckpointSummary,
  ConvertRequest,
  ConvertResponse,
  FerryWorkerApi,
  InputFile,
  OpenResult,
  ProgressUpdate,
  Result,
  TensorStatsResult,
} from '../../workers/protocol.js';
import { unwrap } from '../../workers/protocol.js';

interface Live {
  worker: Worker;
  remote: Comlink.Remote<FerryWorkerApi>;
  crashed: Promise<never>;
}

export class FerryClient {
  private live: Live;

  constructor() {
    this.live = this.spawn();
  }

  private spawn(): Live {
    const worker = new Worker(new URL('../../workers/ferry.worker.ts', import.meta.url), { type: 'module', name: 'ferry' });
    const crashed = new Promise<never>((_, reject) => {
      const fail = (what: string) => {
        reject(new FerryError('E_INTERNAL', `the worker stopped (${what}); open the files again`));
      };
      worker.addEventListener('error', (e) => fail(e.message || 'error'));
      worker.addEventListener('messageerror', () => fail('message could not be deserialized'));
    });
    crashed.catch(() => undefined); // observed by call(); avoid an unhandled rejection when idle
    return { worker, remote: Comlink.wrap<FerryWorkerApi>(worker), crashed };
  }

  private async call<T>(fn: (r: Comlink.Remote<FerryWorkerApi>) => Promise<Result<T>>): Promise<T> {
    const live = this.live;
    try {
      return unwrap(await Promise.race([fn(live.remote), live.crashed]));
    } catch (e) {
      if (this.live === live && e instanceof FerryError && e.code === 'E_INTERNAL' && e.detail.startsWith('the worker stopped')) {
        live.worker.terminate();
        this.live = this.spawn();
      }
      throw e;
    }
  }

  async open(files: InputFile[]): Promise<OpenResult> {
    return this.call((r) => r.open(files));
  }

  async select(entry: string): Promise<CheckpointSummary> {
    return this.call((r) => r.select(entry));
  }

  async tensorStats(name: string): Promise<TensorStatsResult> {
    return this.call((r) => r.tensorStats(name));
  }

  async convert(req: ConvertRequest, onProgress: (p: ProgressUpdate) => void): Promise<ConvertResponse> {
    return this.call((r) => r.convert(req, Comlink.proxy(onProgress)));
  }

  async cancel(): Promise<void> {
    await Promise.race([this.live.remote.cancel(), this.live.crashed]);
  }
}
