// Loads the compiled addon. The only place that knows where the binary lives.
import path from 'node:path';
import { BraidError } from '../errors';
import type {
  DataplaneEvent,
  NativeDataplane,
  NativeDataplaneSpec,
  NativePathManager,
  NativePolicyRouting,
  NativeProcessCpus,
  NativeUserspacePathManager,
  SocketOwner,
  UserspacePmPath,
} from './types';

export interface NativeModule {
  Dataplane: new (spec: NativeDataplaneSpec, onEvents: (events: DataplaneEvent[]) => void) => NativeDataplane;
  PathManager: new () => NativePathManager;
  PolicyRouting: new () => NativePolicyRouting;
  UserspacePathManager: new (paths: UserspacePmPath[]) => NativeUserspacePathManager;
  findSocketOwner(local: string, remote: string, hintPid: number): SocketOwner | null;
  processCpus(pid: number): NativeProcessCpus | null;
}

let cached: NativeModule | undefined;

export function nativeModule(): NativeModule {
  if (cached) return cached;
  const file = path.resolve(__dirname, '../../../build/native/Release/braid_native.node');
  try {
    cached = require(file) as NativeModule;
  } catch (err) {
    throw new BraidError('BRAID_NATIVE', `cannot load the native addon ${file} (run "npm run build:native")`, {
      cause: err,
    });
  }
  return cached;
}
