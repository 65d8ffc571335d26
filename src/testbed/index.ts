// The network-namespace test bed: integration tests, the benchmark and `braid demo`.
export { Testbed } from './testbed';
export type { TestbedOptions, ExecOptions, ExecResult, SpawnOptions, Counters } from './testbed';
export { sweepStale } from './sweep';
export type { SweepOptions } from './sweep';
export { waitForPort } from './wait-port';
export type { WaitPortOptions } from './wait-port';
export { sha256Stream } from './hash';
export { extraNsName, parseNsName } from './names';
export { probeTcp } from './probe';
export type { ProbeOptions, ProbeResult } from './probe';
