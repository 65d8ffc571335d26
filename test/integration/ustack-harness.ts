// What the braid-ustack interop tests share: the binary, the addresses of the veth they build,
// running commands, and hashing files.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../../..');
export const BINARY = path.join(ROOT, 'build/ctest/native/ustack/braid-ustack');
export const LINUX_V4 = '198.18.0.1';
export const STACK_V4 = '198.18.0.2';
export const SIZE = 64 * 1024 * 1024;

export interface ShResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function sh(argv: string[], timeout = 60_000): Promise<ShResult> {
  try {
    const r = await run(argv[0]!, argv.slice(1), { timeout, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
  }
}

export async function must(argv: string[], timeout = 60_000): Promise<string> {
  const r = await sh(argv, timeout);
  assert.equal(r.code, 0, `\`${argv.join(' ')}\` failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** SIZE random bytes in `dir`/input.bin, and their sha256. */
export function makeInput(dir: string): { input: string; inputSha: string } {
  const input = path.join(dir, 'input.bin');
  const data = randomBytes(SIZE);
  writeFileSync(input, data);
  return { input, inputSha: createHash('sha256').update(data).digest('hex') };
}
