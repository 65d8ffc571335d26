// Synthetic data-plane events and snapshots for the observability unit tests.
import type {
  ConnCloseEvent,
  ConnEstablishedEvent,
  ConnOpenEvent,
  DataplaneSnapshot,
  SubflowEvent,
  SubflowInfo,
} from '../../src/dataplane/types';

export function subflow(overrides: Partial<SubflowInfo> = {}): SubflowInfo {
  return {
    id: 1,
    local: '198.18.1.1:40000',
    remote: '198.18.2.2:8080',
    bytesSent: 1000,
    bytesReceived: 2000,
    rttUs: 1500,
    backup: false,
    closed: false,
    ...overrides,
  };
}

export function openEvent(overrides: Partial<ConnOpenEvent> = {}): ConnOpenEvent {
  return { type: 'open', id: 1, listener: 'web', policy: '', worker: 0, client: '127.0.0.1:50000', ...overrides };
}

export function establishedEvent(overrides: Partial<ConnEstablishedEvent> = {}): ConnEstablishedEvent {
  return {
    type: 'established',
    id: 1,
    listener: 'web',
    policy: '',
    upstream: '198.18.2.2:8080',
    outcome: 'mptcp',
    connectUs: 300,
    ...overrides,
  };
}

export function closeEvent(overrides: Partial<ConnCloseEvent> = {}): ConnCloseEvent {
  return {
    type: 'close',
    id: 1,
    listener: 'web',
    policy: '',
    worker: 0,
    client: '127.0.0.1:50000',
    upstream: '198.18.2.2:8080',
    outcome: 'mptcp',
    reason: 'done',
    errno: 0,
    durationMs: 1234,
    bytesUp: 100,
    bytesDown: 5000,
    subflows: [subflow()],
    ...overrides,
  };
}

export function subflowEvent(overrides: Partial<SubflowEvent> = {}): SubflowEvent {
  return { type: 'subflow', id: 1, listener: 'web', policy: '', action: 'added', subflow: subflow(), ...overrides };
}

export function emptySnapshot(overrides: Partial<DataplaneSnapshot> = {}): DataplaneSnapshot {
  return { connections: [], addressBytes: [], accepted: 0, refused: 0, active: 0, ...overrides };
}

/** Two configured paths: a (198.18.1.1) and b (198.18.3.1). */
export function pathForAddress(address: string): string | undefined {
  return ({ '198.18.1.1': 'a', '198.18.3.1': 'b', '2001:db8::1': 'v6' } as Record<string, string>)[address];
}

/** A snapshot with an MPTCP connection on two paths, a fallback and a connecting one. */
export function sampleSnapshot(): DataplaneSnapshot {
  return {
    active: 3,
    accepted: 10,
    refused: 1,
    addressBytes: [],
    connections: [
      {
        id: 7,
        listener: 'web',
        policy: '',
        worker: 0,
        state: 'relaying',
        client: '127.0.0.1:51234',
        upstream: '198.18.2.2:8080',
        outcome: 'mptcp',
        ageMs: 65_000,
        bytesUp: 1_258_291,
        bytesDown: 34_816,
        subflows: [
          subflow({ id: 1, local: '198.18.1.1:40000', bytesSent: 1_048_576, bytesReceived: 20_480, rttUs: 1200 }),
          subflow({
            id: 2,
            local: '198.18.3.1:40001',
            remote: '198.18.4.2:8080',
            bytesSent: 209_715,
            bytesReceived: 14_336,
            rttUs: 850,
            backup: true,
          }),
        ],
      },
      {
        id: 3,
        listener: 'db',
        policy: '',
        worker: 1,
        state: 'relaying',
        client: '[::1]:40222',
        upstream: '[2001:db8::2]:5432',
        outcome: 'fallback',
        ageMs: 3_723_000,
        bytesUp: 512,
        bytesDown: 0,
        subflows: [],
      },
      {
        id: 9,
        listener: 'web',
        policy: '',
        worker: 1,
        state: 'connecting',
        client: '127.0.0.1:51300',
        upstream: '',
        outcome: 'tcp',
        ageMs: 400,
        bytesUp: 0,
        bytesDown: 0,
        subflows: [],
      },
    ],
  };
}
