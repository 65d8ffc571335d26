// What the benchmark ran on, for the report: a number means little without its machine.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface MachineInfo {
  date: string;
  kernel: string;
  cpu: string;
  nproc: string;
  memory: string;
  node: string;
  iperf3: string;
  haproxy: string;
  redis: string;
  braid: string;
}

// First line of a program's output, or why there is none.
function firstLine(argv: string[], cwd?: string): string {
  try {
    const [file, ...args] = argv as [string, ...string[]];
    const out = execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], cwd });
    return out.trim().split('\n')[0] ?? '';
  } catch (err) {
    return `unknown (${argv[0]}: ${(err as Error).message.split('\n')[0]})`;
  }
}

function cpuModel(): string {
  const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
  return m?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
}

function memory(): string {
  const m = /^MemTotal:\s+(\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'utf8'));
  const kb = m ? Number(m[1]) : os.totalmem() / 1024;
  return `${(kb / 2 ** 20).toFixed(1)} GiB`;
}

export function machineInfo(repoRoot: string): MachineInfo {
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    kernel: firstLine(['uname', '-r']),
    cpu: cpuModel(),
    nproc: firstLine(['nproc']),
    memory: memory(),
    node: process.version,
    iperf3: firstLine(['iperf3', '--version']),
    haproxy: firstLine(['haproxy', '-v']).replace(/ - https?:\/\/\S+$/, ''),
    redis: firstLine(['redis-server', '--version']),
    braid: firstLine(['git', 'describe', '--always', '--dirty'], repoRoot),
  };
}
