/**
 * The only module that touches onnxruntime-web. Sessions run queued (one run at a time per session, as
 * transformers.js does), and every result records the backend that was requested.
 * In Node the package resolves to its Node build (wasm backend); in the browser to the web build.
 */
import * as ort from 'onnxruntime-web';
import { FerryError } from '../errors.js';

export type OrtBackend = 'wasm' | 'webgpu';

export type HostData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | BigUint64Array;

/** A tensor on the host: ORT type name, dims, and its data. */
export interface HostTensor {
  type: string;
  dims: number[];
  data: HostData;
}

export interface OrtSessionInfo {
  inputNames: string[];
  outputNames: string[];
  backend: { requested: OrtBackend; ortVersion: string };
}

export class OrtSession {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly session: ort.InferenceSession,
    readonly info: OrtSessionInfo,
  ) {}

  static async create(model: Uint8Array, backend: OrtBackend = 'wasm', name = 'model.onnx'): Promise<OrtSession> {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(model, { executionProviders: [backend], graphOptimizationLevel: 'all' });
    } catch (e) {
      throw new FerryError('E_UNSUPPORTED', `onnxruntime-web (${backend}) could not load the model: ${(e as Error).message}`, { file: name });
    }
    return new OrtSession(session, {
      inputNames: [...session.inputNames],
      outputNames: [...session.outputNames],
      backend: { requested: backend, ortVersion: ort.env.versions.web ?? ort.env.versions.common ?? 'unknown' },
    });
  }

  /** Run once (queued behind any run already in flight). */
  run(feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
    const job = this.queue.then(async () => {
      const inputs: Record<string, ort.Tensor> = {};
      for (const [k, t] of Object.entries(feeds)) inputs[k] = new ort.Tensor(t.type as 'float32', t.data as Float32Array, t.dims);
      const out = await this.session.run(inputs);
      const res: Record<string, HostTensor> = {};
      for (const [k, t] of Object.entries(out)) {
        res[k] = { type: t.type, dims: [...t.dims], data: (await t.getData()) as HostData };
        t.dispose();
      }
      return res;
    });
    this.queue = job.catch(() => undefined);
    return job;
  }

  async release(): Promise<void> {
    await this.queue;
    await this.session.release();
  }
}
