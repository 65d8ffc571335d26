import type { Registry } from 'prom-client';

/** The value of one series of `name` whose labels include `labels`; undefined if absent. */
export async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string | number> = {},
  metricName: string = name,
): Promise<number | undefined> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`metric ${name} is not registered`);
  const { values } = (await metric.get()) as { values: { value: number; labels: object; metricName?: string }[] };
  const found = values.find(
    (v) =>
      (v.metricName ?? name) === metricName &&
      Object.entries(labels).every(([k, want]) => (v.labels as Record<string, unknown>)[k] === want),
  );
  return found?.value;
}
