// Placeholder until this command lands; replaced in the same series of commits.
export async function statusCommand(..._args: unknown[]): Promise<void> {
  throw new Error('braid status: not built yet');
}
