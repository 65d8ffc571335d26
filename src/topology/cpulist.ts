// The kernel's CPU list format ("0-3,8,10-11"), as in sysfs cpulist files and cpuset.cpus.

/** Parses a CPU list; undefined when the text is not one. An empty string is no CPUs. */
export function parseCpuList(text: string): number[] | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  const cpus: number[] = [];
  for (const part of trimmed.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (m === null) return undefined;
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from || to - from > 65535) return undefined;
    for (let c = from; c <= to; c++) cpus.push(c);
  }
  return cpus;
}
