// Typed wrapper around the native data plane; no logic of its own beyond error mapping.
import { BraidError, type ErrorCode, ErrorCodes } from '../errors';
import { nativeModule } from './native';
import type { DataplaneEvent, NativeDataplane, NativeDataplaneSpec, NativeError } from './types';

export * from './types';

export function toBraidError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const e = err as NativeError;
  if (typeof e.code === 'string' && e.code in ErrorCodes) {
    return new BraidError(e.code as ErrorCode, e.message, { cause: err, errno: e.errno });
  }
  return err;
}

export function openDataplane(spec: NativeDataplaneSpec, onEvents: (events: DataplaneEvent[]) => void): NativeDataplane {
  const { Dataplane } = nativeModule();
  try {
    return new Dataplane(spec, onEvents);
  } catch (err) {
    throw toBraidError(err);
  }
}

/**
 * A native 'BRAID_NETLINK' failure as BraidError('BRAID_NETLINK'), errno kept, prefixed with
 * `what` (the step and its subject). Anything else (an argument TypeError is a bug of ours)
 * is returned unchanged.
 */
export function netlinkError(err: unknown, what: string): unknown {
  if (!(err instanceof Error) || (err as NativeError).code !== 'BRAID_NETLINK') return err;
  const errno = (err as NativeError).errno;
  return new BraidError('BRAID_NETLINK', `${what}: ${err.message}`, errno === undefined ? { cause: err } : { cause: err, errno });
}
