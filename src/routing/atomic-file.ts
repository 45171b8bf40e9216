/**
 * Replaces a file in the state directory atomically: a temporary file, fsynced, renamed over
 * the old one, then the folder fsynced. A crash or a failed write leaves the previous file whole.
 */
import { mkdir, open, rename } from 'node:fs/promises';
import path from 'node:path';

export async function writeFileAtomically(dir: string, name: string, text: string): Promise<void> {
  const file = path.join(dir, name);
  const temporary = `${file}.tmp`;
  await mkdir(dir, { recursive: true });
  const handle = await open(temporary, 'w');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, file);
  // The rename itself reaches the disk only when the folder is synced.
  const folder = await open(dir, 'r');
  try {
    await folder.sync();
  } finally {
    await folder.close();
  }
}
