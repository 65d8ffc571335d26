// The access log: one info line per closed connection, carrying everything known about it;
// opens, upstream establishment and subflow changes at debug. Subscribes to the
// braid:* channels, so the data plane knows nothing about logging.
import type { Logger } from 'pino';
import type { ConnCloseEvent } from '../dataplane/types';
import { subscribe } from './events';

/** The fields of the "connection closed" line, in a stable order. */
export function accessLogFields(event: ConnCloseEvent): Record<string, unknown> {
  return {
    listener: event.listener,
    ...(event.policy !== '' ? { policy: event.policy } : {}),
    id: event.id,
    client: event.client,
    upstream: event.upstream,
    outcome: event.outcome,
    reason: event.reason,
    errno: event.errno,
    durationMs: event.durationMs,
    bytesUp: event.bytesUp,
    bytesDown: event.bytesDown,
    subflows: event.subflows.map((s) => ({
      local: s.local,
      remote: s.remote,
      bytesSent: s.bytesSent,
      bytesReceived: s.bytesReceived,
      rttUs: s.rttUs,
      backup: s.backup,
    })),
  };
}

/** Start logging connection events to `logger`; returns the function that stops it. */
export function subscribeAccessLog(logger: Logger): () => void {
  const unsubscribers = [
    subscribe('close', (event) => {
      logger.info(accessLogFields(event), 'connection closed');
    }),
    subscribe('open', (event) => {
      if (!logger.isLevelEnabled('debug')) return;
      logger.debug(
        { listener: event.listener, id: event.id, client: event.client, worker: event.worker },
        'connection opened',
      );
    }),
    subscribe('established', (event) => {
      if (!logger.isLevelEnabled('debug')) return;
      logger.debug(
        {
          listener: event.listener,
          id: event.id,
          upstream: event.upstream,
          outcome: event.outcome,
          connectUs: event.connectUs,
        },
        'connection established',
      );
    }),
    subscribe('subflow', (event) => {
      if (!logger.isLevelEnabled('debug')) return;
      const s = event.subflow;
      logger.debug(
        {
          listener: event.listener,
          id: event.id,
          action: event.action,
          subflow: { id: s.id, local: s.local, remote: s.remote, backup: s.backup },
        },
        `subflow ${event.action}`,
      );
    }),
  ];
  return () => {
    for (const unsubscribe of unsubscribers) unsubscribe();
  };
}
