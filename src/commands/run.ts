// Placeholder until this command lands; replaced in the same series of commits.
export async function runCommand(..._args: unknown[]): Promise<void> {
  throw new Error('braid run: not built yet');
}
