import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { preferenceTiers, type SchedulerPath } from '../../src/policy/scheduler';

const PATHS: SchedulerPath[] = [
  { id: 1, name: 'a', node: 0 },
  { id: 2, name: 'b', node: 1 },
  { id: 3, name: 'c', node: 1 },
  { id: 4, name: 'd', node: undefined },
];

describe('preferenceTiers', () => {
  const cases: { name: string; input: Parameters<typeof preferenceTiers>[0]; want: number[][] | undefined }[] = [
    { name: 'default leaves the kernel alone', input: { scheduler: 'default', paths: PATHS, appNode: 1 }, want: undefined },
    { name: 'numa-local: the node paths first', input: { scheduler: 'numa-local', paths: PATHS, appNode: 1 }, want: [[2, 3], [1, 4]] },
    { name: 'numa-local: node 0', input: { scheduler: 'numa-local', paths: PATHS, appNode: 0 }, want: [[1], [2, 3, 4]] },
    { name: 'numa-local: unknown application node', input: { scheduler: 'numa-local', paths: PATHS }, want: undefined },
    { name: 'numa-local: no NIC on that node', input: { scheduler: 'numa-local', paths: PATHS, appNode: 5 }, want: undefined },
    { name: 'backup-ordered: config order', input: { scheduler: 'backup-ordered', paths: PATHS }, want: [[1], [2], [3], [4]] },
    { name: 'backup-ordered: explicit order, the rest last', input: { scheduler: 'backup-ordered', paths: PATHS, order: ['c', 'a'] }, want: [[3], [1], [2, 4]] },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(preferenceTiers(c.input), c.want));
});
