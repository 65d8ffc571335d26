// The bad-config fixtures and what each must produce, read from its header comments:
//   # expect: KEY.PATH line N
//   # code: BRAID_CONFIG_READ        (optional; default BRAID_CONFIG_INVALID)
//   # message: TEXT                  (optional; the message must contain TEXT)
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const repoRoot = resolve(__dirname, '..', '..', '..'); // dist/test/helpers -> repository root
export const badConfigDir = join(repoRoot, 'test', 'fixtures', 'bad-configs');

export interface BadConfigFixture {
  name: string;
  file: string; // absolute
  text: string;
  path: string;
  line: number;
  code: 'BRAID_CONFIG_INVALID' | 'BRAID_CONFIG_READ';
  message: string | undefined;
}

export function badConfigFixtures(): BadConfigFixture[] {
  return readdirSync(badConfigDir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((name) => {
      const file = join(badConfigDir, name);
      const text = readFileSync(file, 'utf8');
      const expect = /^# expect: (\S+) line (\d+)$/m.exec(text);
      if (expect === null) throw new Error(`${file}: no "# expect: KEY.PATH line N" header`);
      const code = /^# code: (\S+)$/m.exec(text)?.[1] ?? 'BRAID_CONFIG_INVALID';
      if (code !== 'BRAID_CONFIG_INVALID' && code !== 'BRAID_CONFIG_READ') throw new Error(`${file}: unknown code ${code}`);
      const message = /^# message: (.+)$/m.exec(text)?.[1];
      return { name, file, text, path: expect[1]!, line: Number(expect[2]), code, message };
    });
}
