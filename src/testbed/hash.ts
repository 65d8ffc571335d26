// SHA-256 of everything a stream yields: how tests prove bytes crossed a proxy unchanged.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';

/** Resolves with the hex digest once the stream ends; rejects on a stream error. */
export async function sha256Stream(stream: Readable): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of stream) h.update(chunk as Buffer);
  return h.digest('hex');
}
