// Renders helm/braid as `helm install` would, without helm: tools/helm-render (Go text/template
// with sprig and helm's functions) renders, and the merged values are checked against the
// chart's values.schema.json with ajv first, as helm does. For tests and for looking at what
// the chart produces: node dist/src/deploy/chart.js [-f values.yaml]...
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Ajv from 'ajv';
import { parseAllDocuments } from 'yaml';

export type Json = Record<string, unknown>;

export const repoRoot = path.resolve(__dirname, '..', '..', '..'); // dist/src/deploy -> root
export const chartDir = path.join(repoRoot, 'helm', 'braid');
const toolDir = path.join(repoRoot, 'tools', 'helm-render');
const toolBinary = path.join(repoRoot, 'build', 'helm-render', 'helm-render');

export interface RenderOptions {
  release?: string;
  namespace?: string;
  /** Values files' contents, merged over values.yaml in order (like repeated -f). */
  values?: Json[];
  /** Extra .Capabilities.APIVersions, e.g. monitoring.coreos.com/v1. */
  apiVersions?: string[];
  kubeVersion?: string;
}

export interface RenderedManifest {
  source: string;
  kind: string;
  content: string;
}

export interface RenderedChart {
  /** The merged values the templates saw. */
  values: Json;
  manifests: RenderedManifest[];
  /** Every rendered document, parsed. */
  objects: Json[];
  notes: string;
}

/** Refused by the chart: values.schema.json or a template's `fail`/`required`. */
export class ChartError extends Error {
  override name = 'ChartError';
}

let built = false;

/**
 * Build tools/helm-render into build/helm-render/ (offline: Debian's Go sources in GOPATH
 * mode), once per process. Go's build cache makes a rebuild of an unchanged tool quick, and
 * always rebuilding means the binary is never stale.
 */
export function helmRenderBinary(): string {
  if (built) return toolBinary;
  mkdirSync(path.dirname(toolBinary), { recursive: true });
  // Parallel test files may build at once: each writes its own file, then renames.
  const tmp = `${toolBinary}.${process.pid}`;
  try {
    execFileSync('go', ['build', '-o', tmp, '.'], {
      cwd: toolDir,
      env: {
        ...process.env,
        GO111MODULE: 'off',
        GOPATH: '/usr/share/gocode',
        GOCACHE: path.join(repoRoot, 'build', 'go-cache'),
        GOFLAGS: '',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`could not build tools/helm-render (needs golang-go and golang-github-masterminds-sprig-dev; scripts/setup.sh installs them):\n${stderr}`);
  }
  renameSync(tmp, toolBinary);
  built = true;
  return toolBinary;
}

/** The chart's values.schema.json validator (ajv, draft-07, as helm's validator reads it). */
export function valuesValidator(dir = chartDir) {
  const ajv = new Ajv({ allErrors: true, strict: true });
  return ajv.compile(JSON.parse(readFileSync(path.join(dir, 'values.schema.json'), 'utf8')) as Json);
}

export function renderChart(options: RenderOptions = {}, dir = chartDir): RenderedChart {
  const bin = helmRenderBinary();
  const tmp = mkdtempSync(path.join(tmpdir(), 'braid-chart-'));
  try {
    const args = ['-name', options.release ?? 'braid', '-namespace', options.namespace ?? 'braid-system'];
    if (options.kubeVersion !== undefined) args.push('-kube-version', options.kubeVersion);
    for (const api of options.apiVersions ?? []) args.push('-api-versions', api);
    (options.values ?? []).forEach((v, i) => {
      // JSON is YAML with every string quoted: `off` stays a string (unquoted, YAML 1.1 as
      // helm reads it makes it false).
      const file = path.join(tmp, `values-${i}.yaml`);
      writeFileSync(file, JSON.stringify(v));
      args.push('-f', file);
    });
    args.push(dir);
    const run = (output: string): string => {
      try {
        return execFileSync(bin, ['-output', output, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (err) {
        throw new ChartError(((err as { stderr?: string }).stderr ?? String(err)).trim());
      }
    };
    // helm checks the merged values against values.schema.json before it renders anything.
    const merged = JSON.parse(run('values')) as Json;
    const validate = valuesValidator(dir);
    if (!validate(merged)) {
      const problems = (validate.errors ?? []).map((e) => `${e.instancePath || '/'}: ${e.message ?? e.keyword}`);
      throw new ChartError(`values don't meet the specifications of the schema(s):\n${problems.join('\n')}`);
    }
    const result = JSON.parse(run('json')) as { values: Json; manifests: RenderedManifest[]; notes: string };
    const objects = result.manifests.map((m) => {
      const docs = parseAllDocuments(m.content);
      if (docs.length !== 1 || docs[0]!.errors.length > 0) {
        throw new ChartError(`${m.source}: not one valid YAML document: ${docs.flatMap((d) => d.errors.map((e) => e.message)).join('; ')}\n${m.content}`);
      }
      return docs[0]!.toJS() as Json;
    });
    return { ...result, objects };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The one object of `kind` (and `name`, when given); throws naming what is missing. */
export function findObject(objects: Json[], kind: string, name?: string): Json {
  const found = objects.filter((o) => o['kind'] === kind && (name === undefined || (o['metadata'] as Json)['name'] === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0]!;
}

if (require.main === module) {
  const values: Json[] = [];
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '-f') values.push(parseAllDocuments(readFileSync(argv[++i]!, 'utf8'))[0]!.toJS() as Json);
  }
  try {
    for (const m of renderChart({ values }).manifests) process.stdout.write(`---\n# Source: ${m.source}\n${m.content}\n`);
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
