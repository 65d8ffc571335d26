// `braid run`: foreground until SIGTERM/SIGINT, then drain and exit 0. During the drain SIGINT
// or SIGQUIT aborts what is left at once; a repeated SIGTERM does not, because orchestrators
// send it more than once (Kubernetes' preStop hook and then the kubelet itself). A signal that
// arrives while braid is still starting stops it as soon as the start is done.
import { loadConfigFile } from '../config';
import { createLogger, flushLogger } from '../observability/logger';
import { Proxy } from '../proxy';
import { Reloader } from '../reload/reloader';

export async function runCommand(file: string, options: { stateDir?: string } = {}): Promise<void> {
  const loaded = loadConfigFile(file);
  const logger = createLogger(loaded.runtime.log.level);
  const stateDir = options.stateDir ?? process.env.BRAID_STATE_DIR;
  const proxy = new Proxy({ loaded, logger, ...(stateDir !== undefined && stateDir !== '' ? { stateDir } : {}) });

  const crash = (err: unknown): void => {
    logger.fatal({ err }, 'crashed; removing kernel state before exit');
    try {
      proxy.releaseKernelStateSync();
    } finally {
      flushLogger();
      process.exit(1);
    }
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);

  let stopSignal: NodeJS.Signals | undefined;
  let onSignal: (signal: NodeJS.Signals) => void = (signal) => {
    stopSignal ??= signal;
  };
  const listener = (signal: NodeJS.Signals): void => onSignal(signal);
  for (const s of ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const) process.on(s, listener);

  await proxy.start();
  // File changes (including a Kubernetes ConfigMap's symlink swap) and SIGHUP reload live.
  const reloader = new Reloader({
    file,
    current: () => proxy.config,
    apply: (next, plan) => proxy.apply(next, plan),
    logger,
    metrics: proxy.metrics!,
  });
  reloader.start();
  logger.info({ config: file, pid: process.pid, workers: loaded.runtime.workers }, 'braid running');

  await new Promise<void>((resolve) => {
    let stopping = false;
    onSignal = (signal) => {
      reloader.stop();
      if (!stopping) {
        stopping = true;
        logger.info({ signal }, 'stopping: no new connections, draining open ones');
        proxy.stop().then(resolve, crash);
      } else if (signal === 'SIGTERM') {
        logger.info({ signal }, 'already draining; SIGINT or SIGQUIT aborts the open connections');
      } else {
        logger.warn({ signal }, 'aborting open connections');
        proxy.stop({ immediate: true }).then(resolve, crash);
      }
    };
    if (stopSignal !== undefined) onSignal(stopSignal);
  });
  logger.info('braid stopped');
  flushLogger();
}
