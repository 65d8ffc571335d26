#!/usr/bin/env node
import { Command, Option } from 'commander';
import { isBraidError } from './errors';

process.on('SIGPIPE', () => undefined);

const program = new Command();
program
  .name('braid')
  .description('Multipath TCP for unmodified TCP applications: a per-node MPTCP proxy')
  .version(require('../../package.json').version)
  .showHelpAfterError();

program
  .command('run')
  .description('run the proxy in the foreground until SIGTERM/SIGINT (then drain and exit 0)')
  .requiredOption('-c, --config <file>', 'YAML configuration file')
  .action(async (opts: { config: string }) => {
    const { runCommand } = await import('./commands/run');
    await runCommand(opts.config);
  });

program
  .command('validate')
  .description('check a configuration file and print the effective configuration; exit 2 if invalid')
  .requiredOption('-c, --config <file>', 'YAML configuration file')
  .option('-q, --quiet', 'print nothing when the file is valid')
  .action(async (opts: { config: string; quiet?: boolean }) => {
    const { validateCommand } = await import('./commands/validate');
    await validateCommand(opts.config, { quiet: opts.quiet === true });
  });

program
  .command('status')
  .description('show open connections and their subflows from a running braid')
  .option('-a, --admin <address>', 'admin endpoint of the running braid', '127.0.0.1:9464')
  .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table'))
  .action(async (opts: { admin: string; output: 'table' | 'json' }) => {
    const { statusCommand } = await import('./commands/status');
    await statusCommand(opts);
  });

program
  .command('redirect')
  .description('the nftables table braid owns in this network namespace')
  .command('status')
  .description('show the installed redirect rules with their policy and packet/byte counters')
  .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table'))
  .action(async (opts: { output: 'table' | 'json' }) => {
    const { redirectStatusCommand } = await import('./commands/redirect-status');
    await redirectStatusCommand(opts);
  });

program
  .command('demo')
  .description('build a two-node, two-path topology in network namespaces and show multipath at work')
  .option('-s, --seconds <n>', 'length of the transfer', '12')
  .option('-r, --rate <rate>', 'shaping of each path (tc rate)', '100mbit')
  .action(async (opts: { seconds: string; rate: string }) => {
    const { demoCommand } = await import('./commands/demo');
    await demoCommand({ seconds: Number(opts.seconds), rate: opts.rate });
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  if (isBraidError(err)) {
    process.stderr.write(`braid: ${err.message} [${err.code}]\n`);
    process.exit(err.exitCode);
  }
  process.stderr.write(`braid: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
