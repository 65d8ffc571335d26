// Placeholder until this command lands; replaced in the same series of commits.
export async function demoCommand(..._args: unknown[]): Promise<void> {
  throw new Error('braid demo: not built yet');
}
