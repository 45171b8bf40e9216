import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/**
 * A file of this project by its path from the project root. Modules run both
 * from src/ (tests) and from dist/src/ (the server), so the root is found, not assumed.
 */
export function projectFile(...parts: string[]): string {
  if (!root) {
    let dir = path.dirname(fileURLToPath(import.meta.url));
    while (!existsSync(path.join(dir, 'package.json'))) {
      const parent = path.dirname(dir);
      if (parent === dir) throw new Error('cannot find the project root (no package.json above this module)');
      dir = parent;
    }
    root = dir;
  }
  return path.join(root, ...parts);
}
