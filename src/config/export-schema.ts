// Writes schema/braid.schema.json (run by `npm run build:ts` after tsc).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { configJsonSchema } from './json-schema';

const root = resolve(__dirname, '..', '..', '..'); // dist/src/config -> repository root
const out = join(root, 'schema', 'braid.schema.json');
mkdirSync(join(root, 'schema'), { recursive: true });
writeFileSync(out, `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
