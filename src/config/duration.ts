// Durations are whole numbers with a unit: 500ms, 5s, 15m, 1h. One unit per value keeps
// them unambiguous to read and trivial to parse.

export const DURATION_PATTERN = '^\\d+(ms|s|m|h)$';

/** Longest accepted duration: Node timers overflow past 2^31-1 ms and fire at once. */
export const MAX_DURATION_MS = 2 ** 31 - 1;

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

export type DurationParse = { ok: true; ms: number } | { ok: false; problem: string };

export function parseDuration(text: string): DurationParse {
  const m = /^(\d+)(ms|s|m|h)$/.exec(text);
  if (m === null) {
    return { ok: false, problem: `"${text}" is not a duration: write a whole number and a unit ms, s, m or h, e.g. 500ms, 5s, 15m` };
  }
  const ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  if (ms > MAX_DURATION_MS) {
    return { ok: false, problem: `"${text}" is too long: the longest duration is ${MAX_DURATION_MS}ms (about 596h)` };
  }
  return { ok: true, ms };
}
