// The kernel path manager from the native addon, and the mapping of its errors.
import { join } from 'node:path';
import { BraidError } from '../errors';
import type { NativeError, NativePathManager } from '../dataplane/types';

interface PathManagerAddon {
  PathManager: new () => NativePathManager;
}

// dist/src/paths -> <root>/build/native/Release
const ADDON_PATH = join(__dirname, '..', '..', '..', 'build', 'native', 'Release', 'braid_native.node');

let addon: PathManagerAddon | undefined;

function loadAddon(): PathManagerAddon {
  if (addon === undefined) {
    try {
      addon = require(ADDON_PATH) as PathManagerAddon;
    } catch (err) {
      throw new BraidError('BRAID_NATIVE', `cannot load the native addon ${ADDON_PATH} (run npm run build:native)`, {
        cause: err,
      });
    }
  }
  return addon;
}

/** Opens the kernel MPTCP path manager of the calling thread's network namespace. */
export function openPathManager(): NativePathManager {
  const { PathManager } = loadAddon();
  try {
    return new PathManager();
  } catch (err) {
    throw netlinkError(err, 'opening the kernel MPTCP path manager (generic netlink "mptcp_pm")');
  }
}

function isNativeError(err: unknown): err is NativeError {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'string';
}

/**
 * A native 'BRAID_NETLINK' failure as BraidError('BRAID_NETLINK'), errno kept, prefixed with
 * `what` (the step and its subject). Anything else (an argument TypeError is a bug of ours)
 * is returned unchanged.
 */
export function netlinkError(err: unknown, what: string): unknown {
  if (!isNativeError(err) || err.code !== 'BRAID_NETLINK') return err;
  const options = err.errno === undefined ? { cause: err } : { cause: err, errno: err.errno };
  return new BraidError('BRAID_NETLINK', `${what}: ${err.message}`, options);
}
