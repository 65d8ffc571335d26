// One registry of braid's errors. Each has a stable code (documented in docs/errors.md,
// enforced by test/unit/errors.test.ts) and the exit status the CLI uses for it.

export const ErrorCodes = {
  BRAID_CONFIG_INVALID: { exitCode: 2, summary: 'the configuration file failed validation' },
  BRAID_CONFIG_READ: { exitCode: 2, summary: 'the configuration file could not be read or parsed as YAML' },
  BRAID_BIND: { exitCode: 1, summary: 'a listener could not bind its address' },
  BRAID_NETLINK: { exitCode: 1, summary: 'a netlink request failed: the kernel MPTCP path manager (generic netlink) or policy routing for TPROXY (rtnetlink)' },
  BRAID_PATH_INTERFACE: { exitCode: 1, summary: 'a configured path names an interface that is missing or has no address' },
  BRAID_PATH_STATE: { exitCode: 1, summary: 'the endpoint state file is held by another running braid, unreadable, or cannot be written' },
  BRAID_NATIVE: { exitCode: 1, summary: 'the native data plane failed (worker, epoll, or addon load)' },
  BRAID_ADMIN: { exitCode: 1, summary: 'the admin HTTP endpoint could not start or could not be reached' },
  BRAID_REDIRECT: { exitCode: 1, summary: 'the nftables table braid owns could not be installed, listed or removed (nft failed)' },
  BRAID_TESTBED: { exitCode: 1, summary: 'the network-namespace test bed could not be built, driven or removed (ip/tc/ethtool failed)' },
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class BraidError extends Error {
  override name = 'BraidError';
  readonly code: ErrorCode;
  readonly exitCode: number;
  readonly errno: number | undefined;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; errno?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.exitCode = ErrorCodes[code].exitCode;
    this.errno = options.errno;
  }
}

export function isBraidError(err: unknown): err is BraidError {
  return err instanceof BraidError;
}
