// Writes helm/braid/values.schema.json from braid's configuration schema (npm run build:ts):
//   node dist/src/deploy/helm-schema.js
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { configJsonSchema } from '../config';
import { helmValuesSchema } from './values-schema';

const root = resolve(__dirname, '..', '..', '..'); // dist/src/deploy -> repository root
const out = join(root, 'helm', 'braid', 'values.schema.json');
// The directory may be absent (the Docker build context leaves helm/ out).
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(helmValuesSchema(configJsonSchema()), null, 2)}\n`);
