// Placeholder until this command lands; replaced in the same series of commits.
export async function validateCommand(..._args: unknown[]): Promise<void> {
  throw new Error('braid validate: not built yet');
}
