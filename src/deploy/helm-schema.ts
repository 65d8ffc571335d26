// Writes helm/braid/values.schema.json from schema/braid.schema.json. Run after
// export-schema (npm run build:ts): node dist/src/deploy/helm-schema.js
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { helmValuesSchema } from './values-schema';

const root = resolve(__dirname, '..', '..', '..'); // dist/src/deploy -> repository root
const configSchema = JSON.parse(readFileSync(join(root, 'schema', 'braid.schema.json'), 'utf8')) as Record<string, unknown>;
const out = join(root, 'helm', 'braid', 'values.schema.json');
// The directory may be absent (the Docker build context leaves helm/ out).
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(helmValuesSchema(configSchema), null, 2)}\n`);
