// The kernel path manager from the native addon.
import { netlinkError } from '../dataplane';
import { nativeModule } from '../dataplane/native';
import type { NativePathManager } from '../dataplane/types';

export { netlinkError };

/** Opens the kernel MPTCP path manager of the calling thread's network namespace. */
export function openPathManager(): NativePathManager {
  const { PathManager } = nativeModule();
  try {
    return new PathManager();
  } catch (err) {
    throw netlinkError(err, 'opening the kernel MPTCP path manager (generic netlink "mptcp_pm")');
  }
}
