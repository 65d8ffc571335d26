// Data-plane events as diagnostics_channel messages. The core only publishes; logging and
// metrics subscribe (undici lib/core/diagnostics.js), so neither is wired into the relay.
import diagnosticsChannel from 'node:diagnostics_channel';
import type {
  ConnCloseEvent,
  ConnEstablishedEvent,
  ConnOpenEvent,
  DataplaneEvent,
  SubflowEvent,
} from '../dataplane/types';

export const CHANNEL_CONN_OPEN = 'braid:conn:open';
export const CHANNEL_CONN_ESTABLISHED = 'braid:conn:established';
export const CHANNEL_CONN_CLOSE = 'braid:conn:close';
export const CHANNEL_SUBFLOW = 'braid:subflow';

export const channels = {
  open: diagnosticsChannel.channel(CHANNEL_CONN_OPEN),
  established: diagnosticsChannel.channel(CHANNEL_CONN_ESTABLISHED),
  close: diagnosticsChannel.channel(CHANNEL_CONN_CLOSE),
  subflow: diagnosticsChannel.channel(CHANNEL_SUBFLOW),
} as const;

/** Message type carried on each channel, keyed like `channels`. */
export interface ChannelMessages {
  open: ConnOpenEvent;
  established: ConnEstablishedEvent;
  close: ConnCloseEvent;
  subflow: SubflowEvent;
}

/** Publish a native batch in order, each event on its own channel. Synchronous: every
 *  subscriber has seen an event before the next one is published. */
export function publishDataplaneEvents(events: readonly DataplaneEvent[]): void {
  for (const event of events) {
    const channel = channels[event.type];
    // hasSubscribers keeps an idle process from paying for the dispatch.
    if (channel.hasSubscribers) channel.publish(event);
  }
}

/** Subscribe a typed handler; returns the unsubscribe function. */
export function subscribe<K extends keyof ChannelMessages>(
  kind: K,
  handler: (event: ChannelMessages[K]) => void,
): () => void {
  const listener = (message: unknown): void => handler(message as ChannelMessages[K]);
  channels[kind].subscribe(listener);
  return () => {
    channels[kind].unsubscribe(listener);
  };
}
