#!/usr/bin/env node
/**
 * `brisk serve [flags]` (the default), `brisk models [folder]` (the example models),
 * the admin clients: `brisk models list|load|unload`, `brisk routes ...`, and `brisk drift ...`.
 */
import { CliError } from './admin/cli-client.js';
import { driftCommand } from './admin/drift-cli.js';
import { MODELS_COMMANDS, modelsCommand } from './admin/models-cli.js';
import { routesCommand } from './admin/routes-cli.js';
import { ConfigError, configHelp, loadConfig } from './config/load-config.js';
import { buildBundledModels } from './modelgen/build.js';
import { pathToFileURL } from 'node:url';
import { createLogger } from './observability/logger.js';
import { projectFile } from './project-files.js';

const USAGE = `usage: brisk [serve] [flags]     serve a model repository over the Open Inference Protocol
       brisk models [--force] [dir]  write the bundled example models (default dir: models)
       brisk models list|load <model> [--config FILE]|unload <model>   the model repository (admin API)
       brisk routes list|show|set|promote|rollback|audit ...   canary and shadow routes (admin API)
       brisk routes export [--route-store file|etcd ...] > routes.json | import routes.json [--route-store ...]   move the route state between stores
       brisk routes rollout <route> <version> [--steps 5,25,50,100] [--interval 60s] ...   a progressive rollout
       brisk routes rollout-status <route> [--watch] | rollout-pause|rollout-resume|rollout-abort <route>
       brisk drift show <model> [version] [--top N|all] [--json] [--url URL]   features sorted by drift (data port)
       brisk drift capture <model> <version> [--model-repository DIR] [--url URL]   save the server's captured reference
       brisk drift profile <model> <version> --input rows.json [--model-repository DIR]   a reference from a file of rows
       brisk drift recapture <model> <version>   drop the version's reference, capture a new one (admin API)
       brisk bench --url URL --model M [--mode closed|open] ...  load any Open Inference Protocol server, write a report

serve flags:
${configHelp()}`;

/**
 * Without --drain-delay: SIGTERM comes from an orchestrator, whose load balancers need a few
 * seconds to see readiness fail; Ctrl-C at a terminal comes from a person who wants it stopped.
 */
function defaultDrainDelay(signal: NodeJS.Signals): number {
  return signal === 'SIGINT' && process.stdin.isTTY ? 0 : 5;
}

async function serve(argv: string[]): Promise<void> {
  const config = loadConfig(argv, process.env);
  const log = createLogger(config.logLevel);
  // Loaded only to serve: the admin clients start in a fraction of the time without it.
  const { startServer } = await import('./main.js');
  const server = await startServer(config, log);
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      // Dying by the signal itself, with its default action: process.exit would tear down
      // worker threads that may be inside ONNX Runtime, and that aborts the process.
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
      return;
    }
    stopping = true;
    const drainDelaySeconds = config.drainDelaySeconds ?? defaultDrainDelay(signal);
    log.info({ signal, drainDelaySeconds, drainTimeoutSeconds: config.drainTimeoutSeconds }, 'draining');
    void server.shutdown(config.drainTimeoutSeconds, drainDelaySeconds).then((drained) => {
      log.info({ drained }, 'stopped');
      // Let the last responses leave the socket buffers before the process goes.
      setTimeout(() => process.exit(drained ? 0 : 1), 50);
    });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  if (command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return;
  }
  if (command === 'models' && MODELS_COMMANDS.includes(rest[0] ?? '')) {
    console.log(await modelsCommand(rest));
    return;
  }
  if (command === 'models') {
    const force = rest.includes('--force');
    const dir = rest.find((a) => !a.startsWith('--')) ?? 'models';
    const written = buildBundledModels(dir, force);
    console.log(written.length ? written.map((f) => `wrote ${f}`).join('\n') : `models in ${dir} are up to date`);
    return;
  }
  if (command === 'bench') {
    // The bench tool lives beside the server, not inside it: loaded only when asked for.
    const tool = (await import(pathToFileURL(projectFile('dist', 'src', 'loadtool', 'bench.js')).href)) as {
      benchCommand(argv: string[]): Promise<string>;
    };
    console.log(await tool.benchCommand(rest));
    return;
  }
  if (command === 'routes') {
    console.log(await routesCommand(rest));
    return;
  }
  if (command === 'drift') {
    console.log(await driftCommand(rest));
    return;
  }
  await serve(command === 'serve' ? rest : process.argv.slice(2));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof CliError) {
    console.error(`brisk: ${error.message}`);
    process.exit(2);
  }
  console.error(`brisk: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
