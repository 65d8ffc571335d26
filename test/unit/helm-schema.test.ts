// helm/braid/values.schema.json: generated from braid's own config schema (a test fails when
// the committed file drifts from what the generator makes of the current schema), and it
// rejects a bad braid config at install time instead of in the pod.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse as parseYaml, stringify } from 'yaml';
import { configJsonSchema, DEFAULTS, parseConfigText } from '../../src/config';
import { chartDir, valuesValidator, type Json } from '../../src/deploy/chart';
import { helmValuesSchema } from '../../src/deploy/values-schema';

const committedSchema = (): Json => JSON.parse(readFileSync(join(chartDir, 'values.schema.json'), 'utf8')) as Json;
const defaultValues = (): Json => parseYaml(readFileSync(join(chartDir, 'values.yaml'), 'utf8')) as Json;
const config = (v: Json): Json => v['config'] as Json;
const listener0 = (v: Json): Json => (config(v)['listeners'] as Json[])[0]!;

describe('helm/braid/values.schema.json', () => {
  it('is what src/deploy/values-schema.ts makes of the current config schema (npm run build:ts rewrites it)', () => {
    // Built from configJsonSchema() itself, not from a copy: a change to the config schema
    // without regenerating fails here.
    assert.deepEqual(committedSchema(), helmValuesSchema(configJsonSchema()));
  });

  it('nests braid\'s config schema under `config`, without the formats helm does not know', () => {
    const nested = (committedSchema()['properties'] as Record<string, Json>)['config']!;
    assert.equal(nested['additionalProperties'], false);
    assert.deepEqual(nested['required'], ['listeners']);
    const text = JSON.stringify(nested);
    assert.ok(!text.includes('"format"'), 'a braid-* format is left in the chart schema');
    assert.ok(!text.includes('"$schema"'), 'a nested $schema is left in the chart schema');
    assert.ok(text.includes('"pattern"'), 'the patterns that stand in for the formats are gone');
    const keys = Object.keys(nested['properties'] as Json).sort();
    assert.deepEqual(keys, Object.keys(configJsonSchema()['properties'] as Json).sort(), 'every config key is in the chart schema');
  });

  it('accepts the chart\'s default values.yaml', () => {
    const validate = valuesValidator();
    assert.ok(validate(defaultValues()), JSON.stringify(validate.errors, null, 2));
  });

  it('accepts the chart\'s default config with braid\'s own loader too', () => {
    const loaded = parseConfigText(stringify(config(defaultValues())), 'helm/braid/values.yaml (config)');
    assert.ok(loaded.config.listeners.length >= 1);
  });

  it('the chart\'s fallback drain (templates/_helpers.tpl) is braid\'s default', () => {
    const helpers = readFileSync(join(chartDir, 'templates', '_helpers.tpl'), 'utf8');
    const m = /dig "timeouts" "drain" "([^"]+)"/.exec(helpers);
    assert.ok(m, '_helpers.tpl no longer reads config.timeouts.drain with a default');
    assert.equal(m[1], DEFAULTS.timeouts.drain);
  });

  const rejected: [string, (v: Json) => void][] = [
    // braid configs that must fail at install time
    ['an unknown config key', (v) => (config(v)['workerz'] = 2)],
    ['a bad log level', (v) => ((config(v)['log'] as Json)['level'] = 'loud')],
    ['a config without listeners', (v) => delete config(v)['listeners']],
    ['an empty listener list', (v) => (config(v)['listeners'] = [])],
    ['a duration without a unit', (v) => ((config(v)['timeouts'] as Json)['drain'] = '30')],
    ['a duration with two units', (v) => ((config(v)['timeouts'] as Json)['drain'] = '1m30s')],
    ['a host name for an upstream', (v) => (listener0(v)['upstream'] = 'redis:6379')],
    ['an unknown listener mode', (v) => (listener0(v)['mode'] = 'reverse')],
    ['a listener without a name', (v) => delete listener0(v)['name']],
    ['an unknown transport', (v) => (config(v)['transport'] = 'quic')],
    ['a string for maxConnections', (v) => ((config(v)['limits'] as Json)['maxConnections'] = 'many')],
    ['a path without an interface', (v) => (config(v)['paths'] = [{ name: 'nic0' }])],
    ['an admin address without a port', (v) => ((config(v)['admin'] as Json)['listen'] = '0.0.0.0')],
    // the chart's own values
    ['a misspelt top-level key', (v) => (v['confg'] = {})],
    ['an image without a repository', (v) => delete (v['image'] as Json)['repository']],
    ['a relative stateDir', (v) => (v['stateDir'] = 'run/braid')],
    ['a negative grace period', (v) => (v['terminationGracePeriodSeconds'] = -1)],
    ['a hugepage size nodes cannot have', (v) => (((v['dpdk'] as Json)['hugepages'] as Json)['pageSize'] = '4Mi')],
    ['a device count of zero', (v) => ((v['dpdk'] as Json)['devices'] = { 'intel.com/sriov': 0 })],
    ['a ServiceMonitor interval Prometheus cannot read', (v) => ((v['serviceMonitor'] as Json)['interval'] = '30 seconds')],
  ];
  for (const [what, change] of rejected) {
    it(`rejects ${what}`, () => {
      const values = defaultValues();
      assert.ok(valuesValidator()(values), 'the defaults are valid to start with');
      change(values);
      assert.equal(valuesValidator()(values), false);
    });
  }
});
