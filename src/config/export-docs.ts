// Writes docs/config.md from the schema. Run after changing a description or default:
// node dist/src/config/export-docs.js
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { renderConfigDocs } from './docs';

const root = resolve(__dirname, '..', '..', '..'); // dist/src/config -> repository root
mkdirSync(join(root, 'docs'), { recursive: true });
writeFileSync(join(root, 'docs', 'config.md'), renderConfigDocs());
