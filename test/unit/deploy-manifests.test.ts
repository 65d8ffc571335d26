// deploy/: the plain manifests (kustomize), the Grafana dashboard and the systemd unit.
// Every object validates against the Kubernetes schemas, the ConfigMap's commented example
// config loads with braid's loader, and the DaemonSet's pod is the chart's default pod.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { DEFAULTS, parseConfigText } from '../../src/config';
import { chartDir, findObject, renderChart, repoRoot, type Json } from '../../src/deploy/chart';
import { validateObjects } from '../../src/deploy/kube-validate';
import { createMetrics } from '../../src/observability/metrics';

const kustomizeDir = join(repoRoot, 'deploy', 'kubernetes');
const read = (...p: string[]): string => readFileSync(join(...p), 'utf8');

function load(): Json[] {
  const kustomization = parseYaml(read(kustomizeDir, 'kustomization.yaml')) as Json;
  return (kustomization['resources'] as string[]).flatMap((file) =>
    parseAllDocuments(read(kustomizeDir, file)).map((d) => {
      assert.deepEqual(d.errors, [], `${file}: YAML errors`);
      return d.toJS() as Json;
    }),
  );
}

describe('deploy/kubernetes (kubectl apply -k)', () => {
  const objects = load();
  const ds = findObject(objects, 'DaemonSet');
  const pod = ((ds['spec'] as Json)['template'] as Json)['spec'] as Json;

  it('lists every manifest in kustomization.yaml, and they are valid Kubernetes objects', async () => {
    assert.deepEqual(objects.map((o) => o['kind']).sort(), ['ConfigMap', 'DaemonSet', 'Namespace', 'ServiceAccount']);
    await validateObjects(objects, 'deploy/kubernetes');
    const ns = (parseYaml(read(kustomizeDir, 'kustomization.yaml')) as Json)['namespace'];
    for (const o of objects.filter((x) => x['kind'] !== 'Namespace')) assert.equal((o['metadata'] as Json)['namespace'], ns);
  });

  it('asks for no RBAC: braid calls no Kubernetes API', () => {
    assert.ok(!objects.some((o) => /Role/.test(String(o['kind']))));
    assert.equal(findObject(objects, 'ServiceAccount')['automountServiceAccountToken'], false);
    assert.equal(pod['automountServiceAccountToken'], false);
  });

  it('ships a commented example config that braid loads', () => {
    const text = (findObject(objects, 'ConfigMap')['data'] as Record<string, string>)['braid.yaml']!;
    assert.match(text, /^\s*# /m, 'the example config is commented');
    const loaded = parseConfigText(text, 'deploy/kubernetes/configmap.yaml braid.yaml');
    assert.ok(loaded.runtime.timeouts.drainMs < (pod['terminationGracePeriodSeconds'] as number) * 1000);
  });

  it('runs the same pod as the chart with its default values', () => {
    const chart = renderChart({ release: 'braid', namespace: 'braid-system' });
    const chartDs = findObject(chart.objects, 'DaemonSet');
    const chartPod = ((chartDs['spec'] as Json)['template'] as Json)['spec'] as Json;
    assert.deepEqual(pod, chartPod);
    assert.deepEqual((ds['spec'] as Json)['updateStrategy'], (chartDs['spec'] as Json)['updateStrategy']);
    const annotations = (o: Json): unknown => (((o['spec'] as Json)['template'] as Json)['metadata'] as Json)['annotations'];
    assert.deepEqual(annotations(ds), annotations(chartDs));
    // The example config matches the chart's default config (comments aside).
    const cm = (o: Json[]): unknown => parseYaml((findObject(o, 'ConfigMap')['data'] as Record<string, string>)['braid.yaml']!);
    assert.deepEqual(cm(objects), cm(chart.objects));
  });
});

describe('deploy/grafana/braid-dashboard.json', () => {
  const text = read(repoRoot, 'deploy', 'grafana', 'braid-dashboard.json');

  it('is the chart\'s dashboards/braid.json', () => {
    assert.equal(read(chartDir, 'dashboards', 'braid.json'), text);
  });

  it('queries only metrics braid exports', () => {
    const metrics = createMetrics({ snapshot: () => { throw new Error('not scraped'); }, pathForAddress: () => undefined });
    try {
      const known = new Set<string>();
      for (const m of metrics.registry.getMetricsAsArray()) {
        const name = (m as unknown as { name: string }).name;
        for (const suffix of ['', '_bucket', '_sum', '_count']) known.add(name + suffix);
      }
      const dashboard = JSON.parse(text) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
      assert.ok(dashboard.panels.length >= 8);
      for (const panel of dashboard.panels) {
        for (const target of panel.targets) {
          const used = target.expr.match(/\bbraid_[a-z_]+/g) ?? [];
          assert.ok(used.length > 0, `${panel.title}: no braid metric`);
          for (const name of used) assert.ok(known.has(name), `${panel.title}: ${name} is not a braid metric`);
        }
      }
    } finally {
      metrics.dispose();
    }
  });
});

describe('deploy/systemd/braid.service', () => {
  const unit = read(repoRoot, 'deploy', 'systemd', 'braid.service');

  it('waits longer than the default drain before SIGKILL, and reloads with SIGHUP', () => {
    const stop = /^TimeoutStopSec=(\d+)s$/m.exec(unit);
    assert.ok(stop, 'braid.service has no TimeoutStopSec=Ns');
    const drain = parseConfigText(`timeouts: {drain: ${DEFAULTS.timeouts.drain}}\nlisteners: [{name: a, mode: forward, listen: "127.0.0.1:1", upstream: "127.0.0.1:2"}]`, 'defaults');
    assert.ok(Number(stop[1]) * 1000 > drain.runtime.timeouts.drainMs);
    assert.match(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    assert.match(unit, /^KillSignal=SIGTERM$/m);
  });

  it('grants the capabilities the DaemonSet grants, no more', () => {
    const caps = /^CapabilityBoundingSet=(.*)$/m.exec(unit)![1]!.split(' ').map((c) => c.replace(/^CAP_/, '')).sort();
    const ds = findObject(load(), 'DaemonSet');
    const container = ((((ds['spec'] as Json)['template'] as Json)['spec'] as Json)['containers'] as Json[])[0]!;
    const add = ((container['securityContext'] as Json)['capabilities'] as { add: string[] }).add;
    assert.deepEqual(caps, [...add].sort());
  });
});
