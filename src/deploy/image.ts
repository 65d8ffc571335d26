// What deploy/Dockerfile builds, read from the file itself: its stages, the Debian packages
// each installs, the commands it runs, and where the runtime stage puts braid's files. There
// is no container engine on the build machines, so tests check these facts instead: the build
// stage runs scripts/setup.sh's build steps, the runtime stage installs what the addon links,
// and the DaemonSet's command paths exist in the image (imagePathMap maps them to this checkout).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './chart';

export const dockerfile = path.join(repoRoot, 'deploy', 'Dockerfile');

export interface Instruction {
  op: string;
  args: string;
}

export interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

/** Instructions with line continuations joined and comments dropped, grouped by FROM. */
export function parseDockerfile(text = readFileSync(dockerfile, 'utf8')): Stage[] {
  const stages: Stage[] = [];
  const args = new Map<string, string>();
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  for (const raw of lines) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Za-z]+)\s+(.*)$/.exec(line);
    if (m === null) throw new Error(`${dockerfile}: cannot read "${line}"`);
    const op = m[1]!.toUpperCase();
    const rest = m[2]!.replace(/\s+/g, ' ').trim();
    if (op === 'ARG' && stages.length === 0) {
      const [k, v] = rest.split('=', 2);
      args.set(k!, v ?? '');
      continue;
    }
    if (op === 'FROM') {
      const fm = /^(\S+)(?: AS (\S+))?$/i.exec(rest);
      const from = fm![1]!.replace(/\$\{(\w+)\}/g, (_, k: string) => args.get(k) ?? '');
      stages.push({ from, ...(fm![2] ? { name: fm![2] } : {}), instructions: [] });
      continue;
    }
    if (stages.length === 0) throw new Error(`${dockerfile}: ${op} before FROM`);
    stages[stages.length - 1]!.instructions.push({ op, args: rest });
  }
  return stages;
}

/** Packages a stage installs with apt-get install (options dropped). */
export function aptPackages(stage: Stage): string[] {
  const out: string[] = [];
  for (const i of stage.instructions.filter((x) => x.op === 'RUN')) {
    for (const cmd of i.args.split(/&&|;/)) {
      const m = /apt-get install (.*)$/.exec(cmd.trim());
      if (m) out.push(...m[1]!.split(' ').filter((w) => w !== '' && !w.startsWith('-')));
    }
  }
  return out;
}

/** The shell commands of a stage's RUN instructions, one per && part. */
export function runCommands(stage: Stage): string[] {
  return stage.instructions.filter((i) => i.op === 'RUN').flatMap((i) => i.args.split('&&').map((c) => c.trim()));
}

/** An exec-form (JSON array) instruction's argv, e.g. ENTRYPOINT or CMD. */
export function execForm(stage: Stage, op: string): string[] | undefined {
  const i = stage.instructions.filter((x) => x.op === op).pop();
  return i === undefined ? undefined : (JSON.parse(i.args) as string[]);
}

/**
 * Image path -> path in this checkout, for what the runtime stage copies from the build stage
 * (whose WORKDIR is the repository root after `npm run build`). Only those; the base image's
 * own files (node) are mapped by the caller.
 */
export function imagePathMap(stages = parseDockerfile()): Map<string, string> {
  const build = stages.find((s) => s.name !== undefined);
  const runtime = stages[stages.length - 1]!;
  const buildDir = build?.instructions.filter((i) => i.op === 'WORKDIR').pop()?.args ?? '/';
  let workdir = '/';
  const map = new Map<string, string>();
  for (const i of runtime.instructions) {
    if (i.op === 'WORKDIR') workdir = path.posix.resolve(workdir, i.args);
    const m = /^--from=\S+ (\S+) (\S+)$/.exec(i.op === 'COPY' ? i.args : '');
    if (m === null) continue;
    const src = path.posix.relative(buildDir, m[1]!);
    map.set(path.posix.resolve(workdir, m[2]!), path.join(repoRoot, src));
  }
  return map;
}

/** Resolve an absolute image path through imagePathMap (longest prefix), or undefined. */
export function toCheckout(imagePath: string, map = imagePathMap()): string | undefined {
  let best: [string, string] | undefined;
  for (const [img, local] of map) {
    if ((imagePath === img || imagePath.startsWith(`${img}/`)) && (best === undefined || img.length > best[0].length)) best = [img, local];
  }
  return best && path.join(best[1], imagePath.slice(best[0].length));
}
