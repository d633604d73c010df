/**
 * `npm run bench:io` — I/O benchmarks (not a test; prints figures, asserts nothing about time).
 *
 *  1. inspect of a generated 2 GB safetensors file: bytes actually read (goal < 1 MB).
 *  2. PyTorch `.bin` (1 GB, written by real torch when python3-torch is installed, else by Ferry's own minimal
 *     torch-zip writer below) → safetensors, and fp32 → fp16, each as a ratio to `cp` of the same bytes, with the
 *     peak RSS of the converting process.
 *
 * Each measured phase runs in its own child process so its peak RSS is its own.
 * Options: --size-gb 1 (the .bin size), --dir <tmpdir>, --keep.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, openSync, writeSync, closeSync, ftruncateSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';

const argv = process.argv.slice(2);
const opt = (k: string) => {
  const i = argv.indexOf(k);
  return i >= 0 ? argv[i + 1] : undefined;
};
const FERRY = join(process.cwd(), 'src/cli/ferry.mjs');

if (argv[0] === '--phase') {
  await childPhase(argv.slice(1));
} else {
  await parent();
}

/** Runs inside a child: one measured operation, then prints {ms, maxRssMB, bytesRead?} as JSON. */
async function childPhase(args: string[]): Promise<void> {
  const [phase, ...rest] = args;
  const { NodeFileSource, openPaths, nodeSinkFactory } = await import('../../src/core/io/node.js');
  const { openCheckpoint } = await import('../../src/core/formats/registry.js');
  const { FileSet } = await import('../../src/core/io/source.js');
  const t0 = performance.now();
  let bytesRead = 0;
  if (phase === 'inspect') {
    const file = rest[0] as string;
    const src = await NodeFileSource.open(file, 'big.safetensors');
    const counting = {
      name: src.name,
      size: src.size,
      read: (o: number, l: number) => {
        bytesRead += l;
        return src.read(o, l);
      },
    };
    const ck = await openCheckpoint(new FileSet([counting]), 'big.safetensors');
    if (ck.tensors.length === 0) throw new Error('no tensors');
  } else if (phase === 'convert') {
    const [input, out, dtype] = rest as [string, string, string];
    const { convertToSafetensors } = await import('../../src/core/convert/to-safetensors.js');
    const { files, entries } = await openPaths([input]);
    const ck = await openCheckpoint(files, entries[0]);
    await convertToSafetensors(ck, files, nodeSinkFactory(out), dtype === 'keep' ? {} : { dtype: dtype as 'F16' });
  } else throw new Error(`unknown phase ${phase}`);
  const ms = performance.now() - t0;
  console.log(JSON.stringify({ ms, maxRssMB: process.resourceUsage().maxRSS / 1024, bytesRead }));
}

function runChild(args: string[]): { ms: number; maxRssMB: number; bytesRead: number } {
  const r = spawnSync(process.execPath, [FERRY, '--script', 'tests/bench/io.ts', '--phase', ...args], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1] as string) as { ms: number; maxRssMB: number; bytesRead: number };
}

function timeCp(src: string, dst: string): number {
  const t0 = performance.now();
  const r = spawnSync('cp', [src, dst]);
  if (r.status !== 0) throw new Error('cp failed');
  return performance.now() - t0;
}

/** A 2 GB safetensors file: real header, sparse data (the bench measures what inspect reads, not disk speed). */
function makeBigSafetensors(path: string, totalBytes: number): void {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  const n = 256;
  const per = Math.floor(totalBytes / n / 4) * 4;
  for (let i = 0; i < n; i++) header[`model.layers.${i}.weight`] = { dtype: 'F32', shape: [per / 4], data_offsets: [i * per, (i + 1) * per] };
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const hb = Buffer.from(json, 'utf8');
  const fd = openSync(path, 'w');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(hb.length));
  writeSync(fd, len);
  writeSync(fd, hb);
  ftruncateSync(fd, 8 + hb.length + per * n);
  closeSync(fd);
}

/** 1 GB PyTorch checkpoint written by real torch (python3-torch) — the realistic case. */
function makeTorchBin(path: string, gb: number): boolean {
  const py = `
import torch, sys
torch.manual_seed(0)
n = int(${gb} * (1 << 30) / (4096 * 4096 * 4))
sd = {f"model.layers.{i}.weight": torch.randn(4096, 4096) for i in range(n)}
sd["model.embed.bias"] = torch.randn(4096)
torch.save(sd, sys.argv[1])
`;
  const r = spawnSync('python3', ['-c', py, path], { encoding: 'utf8' });
  return r.status === 0 && existsSync(path);
}

async function parent(): Promise<void> {
  const dir = opt('--dir') ?? mkdtempSync(join(tmpdir(), 'ferry-bench-io-'));
  const gb = Number(opt('--size-gb') ?? '1');
  const rows: string[] = [];
  try {
    // 1. inspect of 2 GB safetensors
    const big = join(dir, 'big.safetensors');
    makeBigSafetensors(big, 2 * 1024 ** 3);
    const ins = runChild(['inspect', big]);
    rows.push(`inspect 2 GB safetensors (${statSync(big).size} bytes): read ${ins.bytesRead} bytes (${(ins.bytesRead / 1024).toFixed(1)} KiB) in ${ins.ms.toFixed(1)} ms, peak RSS ${ins.maxRssMB.toFixed(0)} MB`);

    // 2. .bin → safetensors (keep dtype) and fp32 → fp16
    const bin = join(dir, 'pytorch_model.bin');
    if (!makeTorchBin(bin, gb)) {
      rows.push('SKIPPED .bin benchmarks: python3-torch is not installed (apt-get install -y python3-torch)');
    } else {
      const size = statSync(bin).size;
      // Warm the page cache once so cp and Ferry see the same conditions.
      timeCp(bin, join(dir, 'warm.bin'));
      rmSync(join(dir, 'warm.bin'));
      for (const dtype of ['keep', 'F16'] as const) {
        const cpMs = timeCp(bin, join(dir, 'copy.bin'));
        rmSync(join(dir, 'copy.bin'));
        const out = join(dir, `out-${dtype}`);
        const c = runChild(['convert', bin, out, dtype]);
        rmSync(out, { recursive: true, force: true });
        const label = dtype === 'keep' ? '.bin → safetensors (fp32)' : '.bin → safetensors fp32 → fp16';
        rows.push(
          `${label}: ${(c.ms / 1000).toFixed(2)} s vs cp ${(cpMs / 1000).toFixed(2)} s of the same ${(size / 1024 ** 3).toFixed(2)} GiB → ratio ${(c.ms / cpMs).toFixed(2)}×; peak RSS ${c.maxRssMB.toFixed(0)} MB`,
        );
      }
    }
  } finally {
    if (!argv.includes('--keep')) rmSync(dir, { recursive: true, force: true });
  }
  console.log(rows.join('\n'));
}
