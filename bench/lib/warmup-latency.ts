/**
 * The first request after a load, with and without `model_warmup`: a copy of
 * heavy_mlp under another name is loaded (its config given with the load), asked
 * twice, and unloaded, alternately without and with a warmup, so that neither
 * mode always comes first. The server has served other requests before.
 */
import { cpSync, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { requestBody, SCENARIOS } from '../scenarios.js';
import type { AdminClient } from './admin-client.js';
import { firstRequestsMs } from './first-requests.js';

export const COLD_MODEL = 'heavy_cold';
/** Triton's shape: five single-row runs on each instance before the version takes traffic. */
export const WARMUP = [{ name: 'warm', batch_size: 1, count: 5, inputs: { input: { data_type: 'TYPE_FP32', dims: [512], random_data: true } } }];

const SERVER_WARMUP_REQUESTS = 50;

export interface WarmupSample {
  mode: 'without' | 'with';
  /** The load call, warmup included. */
  loadMs: number;
  firstMs: number;
  secondMs: number;
}

/** `cycles` loads of each mode on a quiet server; `repository` is the server's (a copy), where the model is added. */
export async function measureWarmup(admin: AdminClient, httpBase: string, repository: string, cycles: number): Promise<WarmupSample[]> {
  if (!existsSync(path.join(repository, COLD_MODEL))) cpSync(path.join(repository, 'heavy_mlp'), path.join(repository, COLD_MODEL), { recursive: true });
  const config = JSON.parse(readFileSync(path.join(repository, 'heavy_mlp', 'config.json'), 'utf8')) as Record<string, unknown>;
  const { body, headers } = requestBody(SCENARIOS['heavy']!);
  // The server's own request path is compiled on its first requests, whatever the model: those go to
  // heavy_mlp, so that what is left is the new version's cost.
  await firstRequestsMs(httpBase, 'heavy_mlp', body, headers, SERVER_WARMUP_REQUESTS);
  const samples: WarmupSample[] = [];
  for (let i = 0; i < cycles; i++) {
    const modes = i % 2 === 0 ? (['without', 'with'] as const) : (['with', 'without'] as const);
    for (const mode of modes) {
      const loaded = await admin.load(COLD_MODEL, mode === 'with' ? { ...config, model_warmup: WARMUP } : config);
      if (loaded.status !== 200) throw new Error(`load ${COLD_MODEL} (${mode} warmup): ${loaded.status} ${loaded.text}`);
      const [firstMs, secondMs] = await firstRequestsMs(httpBase, COLD_MODEL, body, headers, 2);
      samples.push({ mode, loadMs: loaded.ms, firstMs: firstMs!, secondMs: secondMs! });
      const unloaded = await admin.unload(COLD_MODEL);
      if (unloaded.status !== 200) throw new Error(`unload ${COLD_MODEL}: ${unloaded.status} ${unloaded.text}`);
      // The next load must start a fresh version, not find this one still draining.
      const gone = await admin.waitFor(COLD_MODEL, '1', (e) => e?.reason === 'unloaded', 10_000);
      if (!gone.ok) throw new Error(`${COLD_MODEL} not unloaded after 10 s: ${JSON.stringify(gone.entry)}`);
    }
  }
  return samples;
}
