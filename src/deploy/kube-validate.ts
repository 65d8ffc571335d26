// Checks Kubernetes objects against the API's OpenAPI schemas, through the kubernetes-models
// packages (one model per apiVersion and kind; .validate() throws on a wrong type, a missing
// required field, a bad enum value or format). Those packages are ESM-only: loaded with a real
// dynamic import from this CommonJS code, by file URL so their exports maps do not matter.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot, type Json } from './chart';

// tsc would turn a literal import() into require(); this keeps it an import.
const importEsm = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<Record<string, unknown>>;

/** The package file holding the model of apiVersion/kind, or undefined for one we have none of. */
export function modelFile(apiVersion: string, kind: string): string | undefined {
  if (!/^[A-Za-z0-9]+$/.test(kind)) return undefined;
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/', 2) : ['', apiVersion];
  const modules = path.join(repoRoot, 'node_modules');
  if (group === 'monitoring.coreos.com') {
    return path.join(modules, '@kubernetes-models', 'prometheus-operator', group, version!, `${kind}.js`);
  }
  if (group === '' || !group!.includes('.') || group!.endsWith('.k8s.io')) {
    return path.join(modules, 'kubernetes-models', ...(group === '' ? [] : [group!]), version!, `${kind}.js`);
  }
  return undefined;
}

/** Validate one object; rejects naming the object and every problem the schema reports. */
export async function validateObject(object: Json, where: string): Promise<void> {
  const apiVersion = String(object['apiVersion']);
  const kind = String(object['kind']);
  const name = String((object['metadata'] as Json | undefined)?.['name']);
  const file = modelFile(apiVersion, kind);
  let model: Record<string, unknown>;
  try {
    if (file === undefined) throw new Error('no model for this API group');
    model = await importEsm(pathToFileURL(file).href);
  } catch (err) {
    throw new Error(`${where}: ${apiVersion} ${kind} ${name}: no schema to validate it against (${(err as Error).message})`);
  }
  const Model = model[kind] as (new (data: Json) => { validate(): void }) | undefined;
  if (Model === undefined) throw new Error(`${where}: ${file} has no ${kind}`);
  try {
    new Model(object).validate();
  } catch (err) {
    throw new Error(`${where}: ${apiVersion} ${kind} ${name} is not valid: ${(err as Error).message}`);
  }
}

export async function validateObjects(objects: Json[], where: string): Promise<void> {
  for (const o of objects) await validateObject(o, where);
}
