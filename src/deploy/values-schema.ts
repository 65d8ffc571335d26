// The Helm chart's values.schema.json: the chart's own settings, typed by hand here, plus
// `config`, which is braid's configuration schema (configJsonSchema(), also published as
// schema/braid.schema.json). Written by helm-schema.ts; test/unit/helm-schema.test.ts fails when
// the committed file differs from what this builds from the current config schema.

type Schema = Record<string, unknown>;

const str = (description: string, extra: Schema = {}): Schema => ({ type: 'string', description, ...extra });
const stringMap = (description: string): Schema => ({ type: 'object', additionalProperties: { type: 'string' }, description });
const object = (description: string): Schema => ({ type: 'object', description });
// Prometheus durations as the ServiceMonitor CRD accepts them (e.g. 30s, 1m, 1m30s).
const PROM_DURATION = '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$';

/** values.schema.json for helm/braid, given braid's configuration JSON Schema. */
export function helmValuesSchema(configSchema: Schema): Schema {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'braid Helm chart values',
    type: 'object',
    additionalProperties: false,
    required: ['image', 'config'],
    properties: {
      global: object('Values shared with parent charts (unused by this chart).'),
      nameOverride: str('Replaces the chart name in resource names.'),
      fullnameOverride: str('Replaces the whole release-and-chart resource name.'),
      image: {
        type: 'object',
        additionalProperties: false,
        required: ['repository'],
        description: 'The braid container image (built from deploy/Dockerfile).',
        properties: {
          repository: str('Image repository.', { minLength: 1 }),
          tag: str('Image tag; empty means the chart appVersion (use --set-string for a numeric tag).'),
          pullPolicy: str('Kubernetes imagePullPolicy.', { enum: ['Always', 'IfNotPresent', 'Never'] }),
        },
      },
      imagePullSecrets: {
        type: 'array',
        description: 'Secrets for pulling the image from a private registry.',
        items: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } },
      },
      serviceAccount: {
        type: 'object',
        additionalProperties: false,
        description: 'The ServiceAccount the pods run as (braid itself calls no Kubernetes API).',
        properties: {
          create: { type: 'boolean', description: 'Create the ServiceAccount.' },
          name: str('Its name; empty means the release full name.'),
          annotations: stringMap('Annotations on the ServiceAccount.'),
        },
      },
      podAnnotations: stringMap('Extra annotations on each pod.'),
      podLabels: stringMap('Extra labels on each pod.'),
      prometheus: {
        type: 'object',
        additionalProperties: false,
        description: 'Prometheus scraping of the admin endpoint.',
        properties: {
          scrape: {
            type: 'boolean',
            description:
              'Add prometheus.io/scrape, port and path annotations. Only rendered when config.admin.listen is reachable from off the node (not loopback).',
          },
        },
      },
      resources: object('Container resource requests and limits (Kubernetes ResourceRequirements).'),
      nodeSelector: stringMap('Nodes the DaemonSet runs on.'),
      tolerations: { type: 'array', items: { type: 'object' }, description: 'Taints tolerated; the default tolerates all (a node agent).' },
      affinity: object('Pod affinity rules.'),
      priorityClassName: str('PriorityClass of the pods; empty for none.'),
      terminationGracePeriodSeconds: {
        type: 'integer',
        minimum: 0,
        description:
          'Seconds Kubernetes waits after the start of termination before SIGKILL. 0: config.timeouts.drain plus 15s; a value set must be more than the drain.',
      },
      updateStrategy: object('DaemonSet updateStrategy; the default replaces one node at a time, old pod first.'),
      rolloutOnConfigChange: {
        type: 'boolean',
        description: 'Roll the pods on every config change (a checksum annotation) instead of relying on braid\'s live reload.',
      },
      stateDir: str('Host directory (hostPath) for braid\'s kernel endpoint state; keep it on tmpfs such as /run.', {
        pattern: '^/',
      }),
      serviceMonitor: {
        type: 'object',
        additionalProperties: false,
        description: 'A Prometheus Operator ServiceMonitor and the headless Service it selects.',
        properties: {
          enabled: { type: 'boolean', description: 'Create them (needs the monitoring.coreos.com/v1 CRDs).' },
          interval: str('Scrape interval.', { pattern: PROM_DURATION }),
          scrapeTimeout: str('Scrape timeout.', { pattern: PROM_DURATION }),
          labels: stringMap('Extra labels on the ServiceMonitor, for your Prometheus\'s serviceMonitorSelector.'),
        },
      },
      grafanaDashboard: {
        type: 'object',
        additionalProperties: false,
        description: 'A ConfigMap with braid\'s Grafana dashboard, for the Grafana dashboard sidecar.',
        properties: {
          enabled: { type: 'boolean', description: 'Create it.' },
          labels: stringMap('Labels the sidecar selects dashboards by (grafana_dashboard: "1" by default).'),
          annotations: stringMap('Annotations, e.g. the sidecar\'s folder annotation.'),
        },
      },
      dpdk: {
        type: 'object',
        additionalProperties: false,
        description: 'Pod settings for transport: dpdk; used only when config.transport is dpdk.',
        properties: {
          hugepages: {
            type: 'object',
            additionalProperties: false,
            properties: {
              pageSize: str('Hugepage size the nodes reserved.', { enum: ['2Mi', '1Gi'] }),
              amount: str('Hugepage memory per pod (a Kubernetes quantity such as 1Gi); empty for none.', {
                pattern: '^$|^[0-9]+(Ki|Mi|Gi)$',
              }),
            },
          },
          devices: {
            type: 'object',
            description: 'Extended resources from a device plugin (e.g. intel.com/intel_sriov_netdevice: 1).',
            propertyNames: { pattern: '^[a-z0-9.-]+/[A-Za-z0-9_.-]+$' },
            additionalProperties: { type: 'integer', minimum: 1 },
          },
          physicalAddresses: {
            type: 'boolean',
            description: 'The NIC driver needs physical addresses (igb_uio, vfio-pci without IOMMU): adds SYS_ADMIN and SYS_RAWIO.',
          },
          privileged: {
            type: 'boolean',
            description: 'Run privileged with the host\'s /dev/vfio (vfio-pci NICs without a device plugin).',
          },
        },
      },
      config: helmConfigSchema(configSchema),
    },
  };
}

/**
 * braid's schema made fit for nesting under `config`: without its root `$schema`/`title`
 * (only meaningful at a document root) and without braid's custom `format`s, which Helm's
 * validator does not know. Every format sits beside a `pattern` that Helm does check; the exact
 * rules (octet ranges, port 0, duration limits, cross-field rules) run when braid starts.
 */
export function helmConfigSchema(configSchema: Schema): Schema {
  const nested = withoutBraidFormats(configSchema) as Schema;
  delete nested['$schema'];
  delete nested['title'];
  return {
    ...nested,
    description: 'The braid configuration (braid.yaml) as a YAML mapping; every key is described in docs/config.md.',
  };
}

function withoutBraidFormats(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutBraidFormats);
  if (node === null || typeof node !== 'object') return node;
  const out: Schema = {};
  for (const [key, value] of Object.entries(node as Schema)) {
    if (key === 'format' && typeof value === 'string' && value.startsWith('braid-')) continue;
    out[key] = withoutBraidFormats(value);
  }
  return out;
}
