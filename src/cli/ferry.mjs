#!/usr/bin/env node
// `ferry` CLI entry: runs the TypeScript sources directly (tsx), so a fresh clone needs only `npm ci`.
// `--script <file.ts>` runs a repo script (benchmarks) with the same loader.
import { register } from 'tsx/esm/api';
import { pathToFileURL } from 'node:url';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

register();
const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
if (args[0] === '--script' && args[1]) {
  process.argv.splice(2, 2);
  await import(pathToFileURL(resolve(process.cwd(), args[1])).href);
} else {
  const { main } = await import(pathToFileURL(resolve(here, 'main.ts')).href);
  process.exitCode = await main(args);
}
