/**
 * Issue 2 acceptance 2 and 3, through the CLI entry point (in-process for speed; one real subprocess checks that
 * `npm run --silent ferry -- … --json` prints nothing but JSON on stdout).
 * The cases are discovered from every tensors.json in ../shared/fixtures/hf-tiny — nothing is special-cased.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync, statSync, mkdtempSync, rmSync } from 'node:fs';
import { join, resolve, dirname, relative } from 'node:path';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { main } from '../../src/cli/main.js';

const repo = resolve(__dirname, '../..');
const HF = resolve(repo, '../shared/fixtures/hf-tiny');

interface RefTensor {
  name: string;
  dtype: string;
  shape: number[];
  sha256: string;
}
interface TensorsJson {
  files: Record<string, RefTensor[]>;
}

function findTensorsJson(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...findTensorsJson(p));
    else if (e === 'tensors.json') out.push(p);
  }
  return out.sort();
}

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (s) => (out += s + '\n'), err: (s) => (err += s + '\n') });
  return { code, out, err };
}

interface InspectJson {
  format: string;
  files: string[];
  tensors: { name: string; dtype: string; shape: number[]; sha256?: string }[];
  config?: { model_type?: string };
}

async function inspectJson(path: string): Promise<InspectJson> {
  const r = await run(['inspect', path, '--json', '--hash']);
  expect(r.err, r.err).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.out) as InspectJson;
}

const cases = findTensorsJson(HF).flatMap((tj) => {
  const doc = JSON.parse(readFileSync(tj, 'utf8')) as TensorsJson;
  return Object.entries(doc.files).map(([file, tensors]) => ({ label: relative(HF, join(dirname(tj), file)), path: join(dirname(tj), file), tensors }));
});

describe('ferry inspect --json --hash on every hf-tiny checkpoint (bit-exact vs PyTorch)', () => {
  it('found the fixture cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(10);
  });
  for (const c of cases) {
    it(c.label, async () => {
      const got = await inspectJson(c.path);
      // tensors.json lists names sorted; the CLI prints the checkpoint's own order. Same set, each bit-exact.
      expect(got.tensors.map((t) => t.name).sort()).toEqual(c.tensors.map((t) => t.name).sort());
      expect(byName(got.tensors)).toEqual(byName(c.tensors));
    });
  }
});

/** The reference list for `file` inside the tensors.json of `dir`. */
function reference(dir: string, file: string): RefTensor[] {
  const doc = JSON.parse(readFileSync(join(dir, 'tensors.json'), 'utf8')) as TensorsJson;
  const r = doc.files[file];
  if (!r) throw new Error(`no reference for ${file} in ${dir}`);
  return r;
}

function byName(ts: { name: string; dtype: string; shape: number[]; sha256?: string }[]) {
  return Object.fromEntries(ts.map((t) => [t.name, { dtype: t.dtype, shape: t.shape, sha256: t.sha256 }]));
}

describe('ferry convert → safetensors (bit-exact vs HF and PyTorch casts)', () => {
  const models = readdirSync(HF).filter((d) => statSync(join(HF, d)).isDirectory() && readdirSync(join(HF, d)).includes('pytorch_model.bin'));

  for (const m of models) {
    it(`${m}/pytorch_model.bin → safetensors equals HF's own model.safetensors`, async () => {
      const out = mkdtempSync(join(tmpdir(), 'ferry-cli-'));
      try {
        const r = await run(['convert', join(HF, m, 'pytorch_model.bin'), '--to', 'safetensors', '--out', out, '--json']);
        expect(r.code, r.err).toBe(0);
        const got = await inspectJson(join(out, 'model.safetensors'));
        expect(byName(got.tensors)).toEqual(byName(reference(join(HF, m), 'model.safetensors')));
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    });
  }

  for (const [flag, dir] of [
    ['fp16', 'fp16'],
    ['bf16', 'bf16'],
  ] as const) {
    it(`gpt2 pytorch_model.bin --dtype ${flag} equals PyTorch's ${flag === 'fp16' ? '.half()' : '.bfloat16()'}`, async () => {
      const out = mkdtempSync(join(tmpdir(), 'ferry-cli-'));
      try {
        const r = await run(['convert', join(HF, 'gpt2', 'pytorch_model.bin'), '--to', 'safetensors', '--dtype', flag, '--out', out]);
        expect(r.code, r.err).toBe(0);
        const got = await inspectJson(join(out, 'model.safetensors'));
        expect(byName(got.tensors)).toEqual(byName(reference(join(HF, 'gpt2', dir), 'model.safetensors')));
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    });
  }

  it('legacy torch.save file → sharded safetensors (--max-shard-size) re-reads equal', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ferry-cli-'));
    try {
      const r = await run(['convert', join(HF, 'gpt2', 'pytorch_model.legacy.bin'), '--to', 'safetensors', '--max-shard-size', '100KB', '--out', out]);
      expect(r.code, r.err).toBe(0);
      const shards = readdirSync(out).filter((f) => f.endsWith('.safetensors'));
      expect(shards.length).toBeGreaterThan(1);
      const got = await inspectJson(join(out, 'model.safetensors.index.json'));
      expect(byName(got.tensors)).toEqual(byName(reference(join(HF, 'gpt2'), 'model.safetensors')));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('ferry CLI contract', () => {
  it('npm run --silent ferry -- inspect --json prints only JSON on stdout', () => {
    const stdout = execFileSync('npm', ['run', '--silent', 'ferry', '--', 'inspect', join(HF, 'bert'), '--json'], {
      cwd: repo,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const obj = JSON.parse(stdout) as InspectJson;
    expect(obj.format).toBe('safetensors');
    expect(obj.config?.model_type).toBe('bert');
    expect(obj.tensors.length).toBe(reference(join(HF, 'bert'), 'model.safetensors').length);
  });

  it('a missing file is a typed error with exit code 1', async () => {
    const r = await run(['inspect', join(HF, 'does-not-exist.bin'), '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toMatchObject({ error: { code: 'E_MISSING_FILE' } });
  });

  it('bad options are usage errors with exit code 2', async () => {
    expect((await run(['convert', join(HF, 'bert'), '--to', 'gguf', '--out', tmpdir()])).code).toBe(2);
    expect((await run(['inspect', join(HF, 'bert'), '--bogus'])).code).toBe(2);
    expect((await run(['convert', join(HF, 'bert'), '--to', 'safetensors', '--dtype', 'int3', '--out', tmpdir()])).code).toBe(2);
  });
});
