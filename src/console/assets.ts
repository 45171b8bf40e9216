/**
 * The console's files, read into memory once: the compiled browser code
 * (dist/web/console, built by `npm run build`), its stylesheet and uPlot's,
 * all served from the admin port itself so the page works on an air-gapped
 * cluster and its CSP can forbid every other origin.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { projectFile } from '../project-files.js';

export interface Asset {
  body: Buffer;
  contentType: string;
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** Files by their name under /console/assets/; empty when the browser code was not built. */
export function loadAssets(): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const add = (name: string, file: string): void => {
    const type = TYPES[path.extname(name)];
    if (type && existsSync(file)) assets.set(name, { body: readFileSync(file), contentType: type });
  };
  const built = projectFile('dist', 'web', 'console');
  if (existsSync(built)) for (const name of readdirSync(built)) if (name.endsWith('.js')) add(name, path.join(built, name));
  add('console.css', projectFile('web', 'console', 'console.css'));
  // uPlot's own build, not bundled: resolved where npm put it.
  const uplot = path.dirname(createRequire(import.meta.url).resolve('uplot'));
  add('uPlot.iife.min.js', path.join(uplot, 'uPlot.iife.min.js'));
  add('uPlot.min.css', path.join(uplot, 'uPlot.min.css'));
  return assets;
}

/** The page: a shell the browser code fills in. The CSRF token rides in a meta tag, empty when signed out. */
export function pageHtml(csrf: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="${csrf}">
<title>brisk console</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/console/assets/uPlot.min.css">
<link rel="stylesheet" href="/console/assets/console.css">
<script src="/console/assets/uPlot.iife.min.js" defer></script>
<script type="module" src="/console/assets/app.js"></script>
</head>
<body><div id="app"><p class="muted">Loading…</p></div></body>
</html>
`;
}
