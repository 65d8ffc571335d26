// The packaging's configs stay in step with braid: the chart's values.schema.json is what
// src/deploy/values-schema.ts builds from schema/braid.schema.json, the chart's default values
// pass it, and every braid config shipped in deploy/ and helm/ loads with braid's own loader.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Ajv from 'ajv';
import { parseAllDocuments, parse as parseYaml, stringify } from 'yaml';
import { parseConfigText, type LoadedConfig } from '../../src/config';
import { helmValuesSchema } from '../../src/deploy/values-schema';
import { repoRoot } from '../helpers/bad-configs';

type Json = Record<string, unknown>;

const chartDir = join(repoRoot, 'helm', 'braid');
const manifestFile = join(repoRoot, 'deploy', 'kubernetes', 'braid-daemonset.yaml');
const read = (...parts: string[]): string => readFileSync(join(...parts), 'utf8');
const valuesSchema = (): Json => JSON.parse(read(chartDir, 'values.schema.json')) as Json;
const defaultValues = (): Json => parseYaml(read(chartDir, 'values.yaml')) as Json;

function schemaValidator() {
  const ajv = new Ajv({ allErrors: true, strict: true });
  return ajv.compile(valuesSchema());
}

/** Seconds in a Kubernetes-style integer field, or a test failure naming where. */
function seconds(value: unknown, where: string): number {
  assert.equal(typeof value, 'number', `${where} is not a number`);
  return value as number;
}

describe('helm/braid/values.schema.json', () => {
  it('is current (node dist/src/deploy/helm-schema.js rewrites it)', () => {
    const braidSchema = JSON.parse(read(repoRoot, 'schema', 'braid.schema.json')) as Json;
    assert.deepEqual(valuesSchema(), helmValuesSchema(braidSchema));
  });

  it('nests braid\'s config schema under `config`, without formats Helm does not know', () => {
    const config = (valuesSchema()['properties'] as Record<string, Json>)['config'] as Json;
    assert.equal(config['additionalProperties'], false);
    assert.deepEqual(config['required'], ['listeners']);
    const text = JSON.stringify(config);
    assert.ok(!text.includes('"format"'), 'a braid-* format is left in the chart schema');
    assert.ok(!text.includes('"$schema"'), 'a nested $schema is left in the chart schema');
    assert.ok(text.includes('"pattern"'), 'the patterns that stand in for the formats are gone');
  });

  it('accepts the chart\'s default values.yaml', () => {
    const validate = schemaValidator();
    assert.ok(validate(defaultValues()), JSON.stringify(validate.errors, null, 2));
  });

  const rejected: [string, (v: Json) => void][] = [
    ['a misspelt top-level key', (v) => (v['confg'] = {})],
    ['an unknown config key', (v) => ((v['config'] as Json)['workerz'] = 2)],
    ['a bad log level', (v) => (((v['config'] as Json)['log'] as Json)['level'] = 'loud')],
    ['a config without listeners', (v) => delete (v['config'] as Json)['listeners']],
    ['a duration without a unit', (v) => (((v['config'] as Json)['timeouts'] as Json)['drain'] = '30')],
    ['a host name for an upstream', (v) => ((((v['config'] as Json)['listeners'] as Json[])[0] as Json)['upstream'] = 'redis:6379')],
    ['an image without a repository', (v) => delete (v['image'] as Json)['repository']],
    ['a relative stateDir', (v) => (v['stateDir'] = 'run/braid')],
  ];
  for (const [what, change] of rejected) {
    it(`rejects ${what}`, () => {
      const values = defaultValues();
      change(values);
      assert.equal(schemaValidator()(values), false);
    });
  }
});

describe('braid configs shipped for deployment', () => {
  it('the chart\'s default config loads with braid\'s loader', () => {
    const loaded = parseConfigText(stringify(defaultValues()['config']), 'helm/braid/values.yaml (config)');
    assert.ok(loaded.config.listeners.length >= 1);
  });

  it('the chart waits longer than the default config drains', () => {
    const values = defaultValues();
    const loaded = parseConfigText(stringify(values['config']), 'helm/braid/values.yaml (config)');
    assert.ok(seconds(values['terminationGracePeriodSeconds'], 'terminationGracePeriodSeconds') * 1000 > loaded.runtime.timeouts.drainMs);
  });

  describe('deploy/kubernetes/braid-daemonset.yaml', () => {
    const docs = parseAllDocuments(read(manifestFile)).map((d) => {
      assert.deepEqual(d.errors, [], `${manifestFile}: YAML errors`);
      return d.toJS() as Json;
    });
    const find = (kind: string): Json => {
      const found = docs.find((d) => d['kind'] === kind);
      assert.ok(found, `${manifestFile} has no ${kind}`);
      return found;
    };
    const configMap = find('ConfigMap');
    const daemonSet = find('DaemonSet');
    const podSpec = ((daemonSet['spec'] as Json)['template'] as Json)['spec'] as Json;
    const container = (podSpec['containers'] as Json[])[0] as Json;
    const loaded = (): LoadedConfig => {
      const text = (configMap['data'] as Record<string, string>)['braid.yaml'];
      assert.equal(typeof text, 'string', 'the ConfigMap has no braid.yaml');
      return parseConfigText(text as string, `${manifestFile} (ConfigMap braid, braid.yaml)`);
    };

    it('holds every object in braid-system', () => {
      assert.deepEqual(docs.map((d) => d['kind']), ['Namespace', 'ServiceAccount', 'ConfigMap', 'DaemonSet']);
      for (const d of docs.slice(1)) assert.equal((d['metadata'] as Json)['namespace'], 'braid-system');
    });

    it('embeds a config that loads with braid\'s loader', () => {
      assert.ok(loaded().config.listeners.length >= 1);
    });

    it('runs braid on the host network with the capabilities it needs', () => {
      assert.equal(podSpec['hostNetwork'], true);
      assert.equal(podSpec['dnsPolicy'], 'ClusterFirstWithHostNet');
      const caps = ((container['securityContext'] as Json)['capabilities'] as Json)['add'] as string[];
      for (const cap of ['NET_ADMIN', 'NET_RAW']) assert.ok(caps.includes(cap), `capabilities.add lacks ${cap}`);
    });

    it('reads the ConfigMap it mounts', () => {
      const args = container['args'] as string[];
      const file = args[args.indexOf('-c') + 1] ?? '';
      const mount = (container['volumeMounts'] as Json[]).find((m) => file.startsWith(`${m['mountPath'] as string}/`));
      assert.ok(mount, `no volume mounted where ${file} is`);
      const volume = (podSpec['volumes'] as Json[]).find((v) => v['name'] === mount['name']) as Json;
      assert.equal((volume['configMap'] as Json)['name'], (configMap['metadata'] as Json)['name']);
      assert.ok(file.endsWith('/braid.yaml'));
    });

    it('probes and scrapes the port the embedded config\'s admin endpoint listens on', () => {
      const admin = loaded().runtime.admin.listen;
      assert.ok(admin, 'admin.listen is off: the probes need it');
      for (const probe of ['livenessProbe', 'readinessProbe']) {
        const httpGet = (container[probe] as Json)['httpGet'] as Json;
        assert.equal(httpGet['port'], admin.port, probe);
        const wildcard: boolean = admin.host === '0.0.0.0' || admin.host === '::';
        // Without `host` the kubelet probes the pod IP, which is the node IP on hostNetwork.
        assert.equal(httpGet['host'], wildcard ? undefined : admin.host, `${probe} host`);
      }
      assert.equal(get(daemonSet, 'spec.template.metadata.annotations')['prometheus.io/port'], String(admin.port));
    });

    it('gives braid longer to stop than the embedded config drains', () => {
      assert.ok(seconds(podSpec['terminationGracePeriodSeconds'], 'terminationGracePeriodSeconds') * 1000 > loaded().runtime.timeouts.drainMs);
    });

    it('keeps the state directory on the host, where BRAID_STATE_DIR points', () => {
      const env = (container['env'] as Json[]).find((e) => e['name'] === 'BRAID_STATE_DIR') as Json;
      const mount = (container['volumeMounts'] as Json[]).find((m) => m['mountPath'] === env['value']) as Json;
      assert.ok(mount, `nothing mounted at ${env['value'] as string}`);
      const volume = (podSpec['volumes'] as Json[]).find((v) => v['name'] === mount['name']) as Json;
      assert.equal((volume['hostPath'] as Json)['path'], '/run/braid');
    });
  });

  it('the systemd unit waits longer than the default drain', () => {
    const unit = read(repoRoot, 'deploy', 'systemd', 'braid.service');
    const stop = /^TimeoutStopSec=(\d+)s$/m.exec(unit);
    assert.ok(stop, 'braid.service has no TimeoutStopSec=Ns');
    const drain = parseConfigText('listeners: [{name: a, mode: forward, listen: "127.0.0.1:1", upstream: "127.0.0.1:2"}]', 'defaults');
    assert.ok(Number(stop[1]) * 1000 > drain.runtime.timeouts.drainMs);
  });
});

describe('helm/braid/templates', () => {
  // Helm is not installed here, so the templates are not rendered; this at least catches a
  // template reading a value the chart does not define (a typo renders as empty, silently).
  it('read only values that values.schema.json defines', () => {
    const schema = valuesSchema();
    const templates = readdirSync(join(chartDir, 'templates'));
    assert.ok(templates.includes('daemonset.yaml'));
    let seen = 0;
    for (const name of templates) {
      for (const m of read(chartDir, 'templates', name).matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) {
        seen++;
        let node: Json | undefined = schema;
        for (const key of m[1]!.slice(1).split('.')) {
          node = (node?.['properties'] as Record<string, Json> | undefined)?.[key];
          if (node === undefined || node['properties'] === undefined) break;
        }
        assert.ok(node, `${name}: .Values${m[1]} is not in values.schema.json`);
      }
    }
    assert.ok(seen >= 20, `only ${seen} value references found`);
  });
});

function get(root: Json, path: string): Json {
  let node: unknown = root;
  for (const key of path.split('.')) node = (node as Json | undefined)?.[key];
  assert.ok(node && typeof node === 'object', `no ${path}`);
  return node as Json;
}
