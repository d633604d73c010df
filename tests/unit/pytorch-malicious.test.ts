import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pytorchReader } from '../../src/core/formats/pytorch/index.js';
import { unpickle } from '../../src/core/formats/pytorch/pickle.js';
import { FerryError } from '../../src/core/errors.js';
import { FileSet, MemorySource } from '../../src/core/io/source.js';

const DIR = join(import.meta.dirname, '../fixtures/pickle');
const EXPECTED = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as Record<string, string>;

async function caught(p: Promise<unknown> | (() => unknown)): Promise<FerryError> {
  try {
    if (typeof p === 'function') p();
    else await p;
  } catch (e) {
    expect(e).toBeInstanceOf(FerryError);
    return e as FerryError;
  }
  throw new Error('expected a FerryError, nothing was thrown');
}

describe('malicious pickles are refused, never executed', () => {
  it('corpus covers the required attacks', () => {
    const globals = new Set(Object.values(EXPECTED));
    for (const g of ['os.system', 'posix.system', 'builtins.eval', 'builtins.exec', 'builtins.getattr', 'builtins.__import__', 'subprocess.Popen',
      'subprocess.check_output', 'nt.system', 'runpy._run_code', 'webbrowser.open']) {
      expect(globals.has(g), g).toBe(true);
    }
    expect(Object.keys(EXPECTED).length).toBeGreaterThanOrEqual(20);
  });

  for (const [file, global] of Object.entries(EXPECTED)) {
    it(`${file}: E_PICKLE_GLOBAL '${global}' through the PyTorch reader`, async () => {
      const bytes = new Uint8Array(readFileSync(join(DIR, file)));
      expect(bytes.length).toBeLessThan(4096);
      const name = file.endsWith('.pt') ? file : file.replace(/\.pkl$/, '.pt');
      const src = new MemorySource(name, bytes);
      const e = await caught(pytorchReader.read(src, { files: new FileSet([src]) }));
      expect(e.code).toBe('E_PICKLE_GLOBAL');
      expect(e.global).toBe(global);
      expect(e.file).toBe(name);
      expect(typeof e.offset).toBe('number');
      expect(e.message).toContain(global);
    });
    if (file.endsWith('.pkl')) {
      it(`${file}: E_PICKLE_GLOBAL at the GLOBAL opcode when run through the VM directly`, async () => {
        const bytes = new Uint8Array(readFileSync(join(DIR, file)));
        const e = await caught(() => unpickle(bytes, { file, persistentLoad: () => null }));
        expect(e.code).toBe('E_PICKLE_GLOBAL');
        expect(e.global).toBe(global);
        expect(e.file).toBe(file);
        // the offset points at a GLOBAL (c), STACK_GLOBAL (0x93) or INST (i) opcode
        expect([0x63, 0x93, 0x69]).toContain(bytes[e.offset!]);
      });
    }
  }
});
