import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

/** fsync a directory, so a rename or a new entry in it survives a crash. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Write a file so that readers see the old or the new content, never a torn one: temp, fsync, rename. */
export async function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  await writeTempAndRename(file, data, mode, true);
}

/**
 * Temp + rename without fsync: readers never see a torn file and the content survives the death of
 * the writing process, but not a power cut. For state that is re-observed after a reboot anyway.
 */
export async function replaceFile(file: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  await writeTempAndRename(file, data, mode, false);
}

async function writeTempAndRename(file: string, data: string | Uint8Array, mode: number, durable: boolean): Promise<void> {
  const dir = dirname(file);
  await mkdir(dir, { recursive: true });
  // Readers of a directory skip names containing '.tmp-' (registry tag listings rely on this).
  const tmp = `${file}.tmp-${randomBytes(6).toString('hex')}`;
  const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    try {
      await fh.writeFile(data);
      if (durable) await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  if (durable) await syncDir(dir);
}
