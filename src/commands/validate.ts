// `braid validate -c FILE`: load the file exactly as `braid run` would and show the result.
// An invalid file throws ConfigError/BraidError; src/cli.ts prints it and exits 2.
import { stringify } from 'yaml';
import { loadConfigFile } from '../config';

export async function validateCommand(file: string, options: { quiet: boolean }): Promise<void> {
  const loaded = loadConfigFile(file);
  if (options.quiet) return;
  const workers = loaded.config.workers === 'auto' ? ` (workers: auto = ${loaded.runtime.workers} here)` : '';
  process.stdout.write(`${file}: valid${workers}\n# effective configuration, defaults applied\n${stringify(loaded.config)}`);
}
