import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const loggerModule = path.resolve(__dirname, '../../src/observability/logger.js');

describe('createLogger', () => {
  it('writes JSON lines to stdout at the level asked, all of them out by process.exit', async () => {
    // process.exit() right after logging asynchronously: every buffered line must still come out
    // (pino's own exit hook does this too; flushLogger() makes it explicit and must not break it).
    const script = `
      const { createLogger, flushLogger } = require(${JSON.stringify(loggerModule)});
      const log = createLogger('info');
      log.debug('hidden');
      for (let i = 0; i < 2000; i++) log.info({ i }, 'line');
      flushLogger();
      process.exit(0);
    `;
    const { stdout } = await run(process.execPath, ['-e', script], { maxBuffer: 16 * 1024 * 1024 });
    const lines = stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { level: number; msg: string; i: number });
    assert.equal(lines.length, 2000);
    assert.deepEqual(lines[1999], { ...lines[1999], level: 30, msg: 'line', i: 1999 });
    assert.ok(lines.every((l) => l.msg === 'line'));
  });
});
