// Live reload of a running braid: a Kubernetes-style ConfigMap update, a bad update, SIGHUP,
// and a transfer on an unchanged listener that must not notice any of it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pathsFor } from '../../src/demo/braid-node';
import { CLIENT_PORT, MiB, Pair, SERVER_PORT } from './pair';

const EXTRA_PORT = 7200;

function clientConfig(pair: Pair, extra: boolean, level = 'info'): Record<string, unknown> {
  const upstream = `${pair.bed.address(1, 0)}:${SERVER_PORT}`;
  return {
    paths: pathsFor(pair.bed, 2),
    listeners: [
      { name: 'out', mode: 'forward', listen: `127.0.0.1:${CLIENT_PORT}`, upstream },
      ...(extra ? [{ name: 'extra', mode: 'forward', listen: `127.0.0.1:${EXTRA_PORT}`, upstream }] : []),
    ],
    log: { level },
  };
}

async function reloads(pair: Pair, result: string, atLeast: number): Promise<number> {
  return pair.settledMetric(pair.client, new RegExp(`braid_config_reloads_total\\{result="${result}"\\} (\\d+)`), (v) => v >= atLeast);
}

describe('live reload', () => {
  it('applies ConfigMap updates, ignores a bad one, and a transfer on an unchanged listener survives them all', async () => {
    const pair = await Pair.create({ rate: '100mbit', clientLayout: 'configmap' });
    try {
      const transfer = pair.hashClient(1, 64 * MiB, 4 * MiB, { timeoutMs: 60_000 });
      await new Promise((r) => setTimeout(r, 300));

      pair.client.updateConfig(clientConfig(pair, true));
      assert.equal(await reloads(pair, 'ok', 1), 1);
      const viaExtra = await pair.hashClient(1, 1 * MiB, 1 * MiB, { port: EXTRA_PORT });
      assert.equal(viaExtra.report.ok, true, 'the added listener serves');

      pair.client.updateConfig('listeners: [ this is not: valid yaml\n');
      assert.equal(await reloads(pair, 'invalid', 1), 1);
      const stillExtra = await pair.hashClient(1, 1 * MiB, 0, { port: EXTRA_PORT });
      assert.equal(stillExtra.report.ok, true, 'the old config still serves');

      pair.client.updateConfig(clientConfig(pair, false, 'debug'));
      assert.equal(await reloads(pair, 'ok', 2), 2);
      const gone = await pair.bed.exec(0, ['socat', '-u', 'OPEN:/dev/null', `TCP:127.0.0.1:${EXTRA_PORT}`]);
      assert.match(gone.stderr, /refused/i, 'the removed listener no longer accepts');

      const { report } = await transfer;
      assert.equal(report.ok, true, `the long transfer survived three reloads: ${JSON.stringify(report)}`);
    } finally {
      await pair.destroy();
    }
  });

  it('reloads on SIGHUP and keeps running', async () => {
    const pair = await Pair.create();
    try {
      pair.client.signal('SIGHUP');
      assert.equal(await reloads(pair, 'unchanged', 1), 1);
      const { report } = await pair.hashClient(1, 1 * MiB, 1 * MiB);
      assert.equal(report.ok, true);
    } finally {
      await pair.destroy();
    }
  });
});
