// `braid run`: foreground until SIGTERM/SIGINT, then drain and exit 0. A second signal during
// the drain aborts what is left at once.
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
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals): void => {
      signals++;
      reloader.stop();
      if (signals === 1) {
        logger.info({ signal }, 'stopping: no new connections, draining open ones');
        proxy.stop().then(resolve, crash);
      } else {
        logger.warn({ signal }, 'second signal: aborting open connections');
        proxy.stop({ immediate: true }).then(resolve, crash);
      }
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  logger.info('braid stopped');
  flushLogger();
}
