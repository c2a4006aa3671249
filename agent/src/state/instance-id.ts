/** Instance ids name directories (post-install markers): keep them to a safe alphabet. */
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export function isSafeInstanceId(id: string): boolean {
  return SAFE_ID.test(id);
}

export function assertSafeInstanceId(id: string, where = 'instance id'): void {
  if (!isSafeInstanceId(id)) {
    throw new Error(
      `${where} = ${JSON.stringify(id.slice(0, 80))}: must be 1-128 characters of A-Z a-z 0-9 . _ : - starting with a letter or digit`,
    );
  }
}
