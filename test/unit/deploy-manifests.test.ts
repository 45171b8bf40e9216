/**
 * deploy/: every manifest valid against its API's schema, and every port, path, flag and
 * duration in it the one the server really uses, read through the server's own flag parser.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ALERTS_FILE, RULE_FILE, renderPrometheusRule } from '../../deploy/scripts/prometheus-rule.mjs';
import { loadConfig } from '../../src/config/load-config.js';
import { OPTIONS, type ServerConfig } from '../../src/config/server-config.js';
import { modelConfigFileSchema } from '../../src/models/model-config.js';
import { ServerMetrics } from '../../src/observability/metrics.js';
import { projectFile } from '../../src/project-files.js';
import { shutdownSecondsAtMost } from '../../src/shutdown-budget.js';
import { problems, readManifests, schemaProblems, strictPodParts, type Manifest } from '../helpers/manifest-schemas.js';

const kubernetes = readManifests('kubernetes');
const kserve = readManifests('kserve');
// The cluster's resources: kustomization.yaml is kustomize's, checked on its own below.
const all = [...kubernetes, ...kserve].flatMap(({ file, documents }) => documents.filter((d) => d['kind'] !== 'Kustomization').map((manifest) => ({ file, manifest })));

function only(kind: string, name?: string): Manifest {
  const found = all.filter(({ manifest }) => manifest['kind'] === kind && (name === undefined || manifest['metadata']?.['name'] === name));
  expect(found, `one ${kind}${name ? ` ${name}` : ''}`).toHaveLength(1);
  return found[0]!.manifest;
}

/** What the server makes of a container's args and env, as it would at start. */
function serverConfig(container: Manifest): ServerConfig {
  const args = container['args'] as string[];
  // The image's entrypoint is `node dist/src/cli.js`; `serve` is the command, the rest its flags.
  expect(args[0]).toBe('serve');
  // Values from Secrets and the downward API are stand-ins of a valid shape.
  const env = Object.fromEntries(((container['env'] ?? []) as Manifest[]).map((e) => [e['name'], e['value'] ?? 'x'.repeat(32)]));
  return loadConfig(args.slice(1), env);
}

/** The flag's value as written in the args (for the flags whose default the config leaves open). */
function flagValue(container: Manifest, flag: string): string | undefined {
  const args = container['args'] as string[];
  const i = args.indexOf(`--${flag}`);
  return i < 0 ? undefined : args[i + 1];
}

function containerPort(container: Manifest, name: string): number {
  const port = (container['ports'] as Manifest[]).find((p) => p['name'] === name);
  expect(port, `container port ${name}`).toBeDefined();
  return port!['containerPort'] as number;
}

/** A probe's port, by name or number, as the port number it reaches. */
function probePort(container: Manifest, probe: Manifest): number {
  const port = probe['httpGet']['port'] as string | number;
  return typeof port === 'number' ? port : containerPort(container, port);
}

/** The uid and gid of the Dockerfile's USER line. */
function imageUser(dockerfile: string): { uid: number; gid: number } {
  const user = /^USER (\d+):(\d+)$/m.exec(readFileSync(projectFile(dockerfile), 'utf8'));
  expect(user, `${dockerfile} runs as a numeric uid:gid`).not.toBeNull();
  return { uid: Number(user![1]), gid: Number(user![2]) };
}

/** A Kubernetes storage quantity in bytes (the binary and decimal suffixes these files use). */
function quantityBytes(quantity: string): number {
  const match = /^(\d+)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(quantity);
  expect(match, `storage quantity ${quantity}`).not.toBeNull();
  const unit = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, k: 1e3, M: 1e6, G: 1e9, T: 1e12 }[match![2] ?? ''] ?? 1;
  return Number(match![1]) * unit;
}

/** The models' batch_timeout_ms when their config.json leaves it out: the repositories deployed are not in the manifests. */
const defaultBatchTimeoutMs = modelConfigFileSchema.parse({}).batch_timeout_ms;

const defaults = {
  httpPort: OPTIONS.httpPort.schema.parse(undefined),
  grpcPort: OPTIONS.grpcPort.schema.parse(undefined),
  adminPort: OPTIONS.adminPort.schema.parse(undefined),
};

describe('deployment manifests: schemas', () => {
  it.each(all.map(({ file, manifest }) => [`${file}: ${String(manifest['kind'])} ${String(manifest['metadata']?.['name'])}`, manifest] as const))(
    '%s is valid against its schema',
    (_name, manifest) => {
      expect(schemaProblems(manifest)).toEqual([]);
    },
  );

  it('the schema checks catch wrong types, misspelt fields and unknown kinds', () => {
    const deployment = structuredClone(only('Deployment', 'brisk'));
    deployment['spec']['template']['spec']['containers'][0]['ports'][0]['containerPort'] = '8000';
    expect(schemaProblems(deployment).join()).toMatch(/containerPort must be integer/);

    const runtime = structuredClone(only('ServingRuntime'));
    runtime['spec']['protocolVersion'] = ['v2'];
    expect(schemaProblems(runtime).join()).toMatch(/must NOT have additional properties: protocolVersion/);
    delete runtime['spec']['protocolVersion'];
    runtime['spec']['supportedModelFormats'][0]['autoSelect'] = 'yes';
    expect(schemaProblems(runtime).join()).toMatch(/autoSelect must be boolean/);

    const service = structuredClone(only('InferenceService'));
    delete service['spec']['predictor']['model']['modelFormat']['name'];
    expect(schemaProblems(service).join()).toMatch(/must have required property 'name'/);

    expect(schemaProblems({ apiVersion: 'example.com/v1', kind: 'Unknown' })).toEqual(['no schema for example.com/v1 Unknown']);
  });

  it('pod containers, volumes and security contexts have no field Kubernetes would refuse as unknown', () => {
    const pods = [only('Deployment', 'brisk'), only('StatefulSet', 'brisk-etcd')].map((m) => m['spec']['template']['spec'] as Manifest);
    const runtime = only('ServingRuntime')['spec'] as Manifest;
    const checks: [string, (typeof strictPodParts)[keyof typeof strictPodParts], unknown][] = [
      ...[...pods, runtime].flatMap((spec) => (spec['containers'] as Manifest[]).map((c) => [`container ${c['name']}`, strictPodParts.container, c] as [string, typeof strictPodParts.container, unknown])),
      ...[...pods, runtime].flatMap((spec) => ((spec['volumes'] ?? []) as Manifest[]).map((v) => [`volume ${v['name']}`, strictPodParts.volume, v] as [string, typeof strictPodParts.volume, unknown])),
      ...pods.map((spec) => ['pod securityContext', strictPodParts.podSecurityContext, spec['securityContext']] as [string, typeof strictPodParts.podSecurityContext, unknown]),
    ];
    expect(checks.length).toBeGreaterThanOrEqual(7);
    for (const [what, validate, value] of checks) expect(validate(value) ? [] : problems(validate), what).toEqual([]);

    // A misspelt probe is refused, not silently dropped.
    const misspelt = structuredClone(pods[0]!['containers'][0]) as Manifest;
    misspelt['readinesProbe'] = misspelt['readinessProbe'];
    expect(strictPodParts.container(misspelt)).toBe(false);
    expect(problems(strictPodParts.container).join()).toMatch(/readinesProbe/);
  });

  it('kustomization.yaml lists every manifest in deploy/kubernetes once, and no two resources share a kind and name', () => {
    const kustomization = parse(readFileSync(projectFile('deploy', 'kubernetes', 'kustomization.yaml'), 'utf8')) as Manifest;
    const files = kubernetes.map(({ file }) => file.replace('deploy/kubernetes/', '')).filter((f) => f !== 'kustomization.yaml');
    expect([...(kustomization['resources'] as string[])].sort()).toEqual(files.sort());
    const ids = kubernetes.flatMap(({ documents }) => documents.filter((d) => d['kind'] !== 'Kustomization').map((d) => `${d['kind']} ${d['metadata']['namespace'] ?? ''}/${d['metadata']['name']}`));
    expect(new Set(ids).size).toBe(ids.length);
    // The image the Deployment names is the one the kustomization retargets.
    const image = only('Deployment', 'brisk')['spec']['template']['spec']['containers'][0]['image'] as string;
    expect((kustomization['images'] as Manifest[]).map((i) => i['name'])).toContain(image.split(':')[0]);
  });

  const kubectl = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0;
  it.skipIf(!kubectl)(`kubectl kustomize builds deploy/kubernetes${kubectl ? '' : ' (skipped: kubectl is not installed)'}`, () => {
    const built = spawnSync('kubectl', ['kustomize', projectFile('deploy', 'kubernetes')], { encoding: 'utf8' });
    expect(built.stderr).toBe('');
    expect(built.status).toBe(0);
    expect(built.stdout).toContain('image: registry.example.com/brisk:0.1.0');
  });

  it('the PrometheusRule is generated from ops/prometheus/alerts.yml and in sync with it (npm run deploy:rules)', () => {
    const alerts = readFileSync(ALERTS_FILE, 'utf8');
    expect(readFileSync(RULE_FILE, 'utf8'), 'deploy/kubernetes/prometheus-rule.yaml is stale: run npm run deploy:rules').toBe(renderPrometheusRule(alerts));
    expect(only('PrometheusRule')['spec']['groups']).toEqual((parse(alerts) as Manifest)['groups']);
  });
});

describe('deployment manifests: the server as deployed', () => {
  const deployment = only('Deployment', 'brisk');
  const pod = deployment['spec']['template']['spec'] as Manifest;
  const container = pod['containers'][0] as Manifest;
  const config = serverConfig(container);

  it("the Deployment's args parse, and its ports are the server's defaults, named and declared", () => {
    expect({ httpPort: config.httpPort, grpcPort: config.grpcPort, adminPort: config.adminPort }).toEqual(defaults);
    expect(containerPort(container, 'http')).toBe(config.httpPort);
    expect(containerPort(container, 'grpc')).toBe(config.grpcPort);
    expect(containerPort(container, 'admin')).toBe(config.adminPort);
    // The admin API stays on loopback (port-forward reaches it); the data ports on every address.
    expect(config.adminHost).toBe('127.0.0.1');
    expect(config.host).toBe('0.0.0.0');
    // And the image says the same.
    const exposed = /^EXPOSE (.+)$/m.exec(readFileSync(projectFile('Dockerfile'), 'utf8'))?.[1]?.split(/\s+/).map(Number);
    expect(exposed).toEqual([defaults.httpPort, defaults.grpcPort, defaults.adminPort]);
  });

  it('readiness and startup probe /v2/health/ready, liveness /v2/health/live, on the HTTP port', () => {
    expect(container['startupProbe']['httpGet']['path']).toBe('/v2/health/ready');
    expect(container['readinessProbe']['httpGet']['path']).toBe('/v2/health/ready');
    expect(container['livenessProbe']['httpGet']['path']).toBe('/v2/health/live');
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) expect(probePort(container, container[probe]), probe).toBe(config.httpPort);
    // Startup allows the longest a version may take to load.
    const startup = container['startupProbe'] as Manifest;
    expect(startup['periodSeconds'] * startup['failureThreshold']).toBeGreaterThanOrEqual(config.modelLoadTimeoutSecs);
  });

  it('the grace period outlasts the whole shutdown, running batches included, and the drain delay covers the endpoint removal (no preStop hook)', () => {
    const drainDelay = Number(flagValue(container, 'drain-delay'));
    // Stated in the args: its default is decided per signal in cli.ts, out of the config's reach.
    expect(config.drainDelaySeconds).toBe(drainDelay);
    expect(drainDelay).toBeGreaterThanOrEqual(5);
    expect(container['lifecycle']?.['preStop']).toBeUndefined();
    expect(pod['terminationGracePeriodSeconds']).toBeGreaterThanOrEqual(shutdownSecondsAtMost(drainDelay, config.drainTimeoutSeconds, defaultBatchTimeoutMs));
    // The bound counts the batches: 10 s + 30 s of drain alone would pass a grace of 50 s.
    expect(shutdownSecondsAtMost(drainDelay, config.drainTimeoutSeconds, defaultBatchTimeoutMs)).toBeGreaterThan(drainDelay + config.drainTimeoutSeconds + defaultBatchTimeoutMs / 1000);
  });

  it('the Services and the PodMonitor reach the container ports by name, and the gRPC one says it is gRPC', () => {
    const http = only('Service', 'brisk-http');
    const grpc = only('Service', 'brisk-grpc');
    const [httpPort] = http['spec']['ports'] as Manifest[];
    const [grpcPort] = grpc['spec']['ports'] as Manifest[];
    expect(containerPort(container, httpPort!['targetPort'])).toBe(config.httpPort);
    expect(httpPort!['port']).toBe(config.httpPort);
    expect(containerPort(container, grpcPort!['targetPort'])).toBe(config.grpcPort);
    expect(grpcPort!['port']).toBe(config.grpcPort);
    expect(grpcPort!['appProtocol']).toBe('grpc');
    const monitor = only('PodMonitor')['spec'] as Manifest;
    expect(containerPort(container, monitor['podMetricsEndpoints'][0]['port'])).toBe(config.httpPort);
    expect(monitor['podMetricsEndpoints'][0]['path']).toBe('/metrics');
    expect(config.metrics).toBe(true);
  });

  it('the Services, PodMonitor, PDB and the Deployment itself select exactly its pods', () => {
    const labels = deployment['spec']['template']['metadata']['labels'] as Record<string, string>;
    const selects = (selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);
    expect(selects(deployment['spec']['selector']['matchLabels'])).toBe(true);
    expect(selects(only('Service', 'brisk-http')['spec']['selector'])).toBe(true);
    expect(selects(only('Service', 'brisk-grpc')['spec']['selector'])).toBe(true);
    expect(selects(only('PodMonitor')['spec']['selector']['matchLabels'])).toBe(true);
    expect(selects(only('PodDisruptionBudget', 'brisk')['spec']['selector']['matchLabels'])).toBe(true);
    // The etcd pods are not among them.
    const etcdLabels = only('StatefulSet', 'brisk-etcd')['spec']['template']['metadata']['labels'] as Record<string, string>;
    expect(Object.entries(only('Service', 'brisk-http')['spec']['selector']).every(([k, v]) => etcdLabels[k] === v)).toBe(false);
  });

  it('runs as the image user, non-root, read-only, with no capabilities, the admin token from a Secret and the models from a read-only volume', () => {
    const { uid, gid } = imageUser('Dockerfile');
    expect(pod['securityContext']).toMatchObject({ runAsNonRoot: true, runAsUser: uid, runAsGroup: gid, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container['securityContext']).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    const token = (container['env'] as Manifest[]).find((e) => e['name'] === OPTIONS.adminToken.env);
    expect(token?.['valueFrom']?.['secretKeyRef']).toMatchObject({ name: 'brisk-admin', key: 'token' });
    const mount = (container['volumeMounts'] as Manifest[]).find((m) => m['mountPath'] === config.modelRepository);
    expect(mount, `a volume at --model-repository ${config.modelRepository}`).toMatchObject({ readOnly: true });
    const volume = (pod['volumes'] as Manifest[]).find((v) => v['name'] === mount!['name']);
    expect(volume?.['persistentVolumeClaim']?.['claimName']).toBe(only('PersistentVolumeClaim', 'brisk-models')['metadata']['name']);
    expect(container['resources']['requests']).toBeDefined();
    expect(container['resources']['limits']).toBeDefined();
  });

  it("--route-store etcd names every member of the etcd StatefulSet, on its client port, and the members' initial cluster is the same three", () => {
    expect(config.routeStore).toBe('etcd');
    const etcd = only('StatefulSet', 'brisk-etcd');
    const headless = only('Service', etcd['spec']['serviceName']);
    expect(headless['spec']['clusterIP']).toBe('None');
    const members = Array.from({ length: etcd['spec']['replicas'] as number }, (_, i) => `${etcd['metadata']['name']}-${i}.${headless['metadata']['name']}`);
    expect(members).toHaveLength(3);
    const etcdContainer = etcd['spec']['template']['spec']['containers'][0] as Manifest;
    const client = containerPort(etcdContainer, 'client');
    const peer = containerPort(etcdContainer, 'peer');
    expect(config.etcdEndpoints).toEqual(members.map((m) => `http://${m}:${client}`));
    const initialCluster = (etcdContainer['args'] as string[]).find((a) => a.startsWith('--initial-cluster='))!.slice('--initial-cluster='.length);
    expect(initialCluster.split(',')).toEqual(members.map((m) => `${m.split('.')[0]}=http://${m}:${peer}`));
    expect(etcd['spec']['podManagementPolicy']).toBe('Parallel');
  });

  it('each etcd member compacts its history, and reaches its space quota before its volume is full', () => {
    const etcd = only('StatefulSet', 'brisk-etcd');
    const args = etcd['spec']['template']['spec']['containers'][0]['args'] as string[];
    const flag = (name: string): string | undefined => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
    expect(flag('auto-compaction-mode')).toBe('periodic');
    expect(flag('auto-compaction-retention')).toMatch(/^\d+[hm]$/);
    const claim = (etcd['spec']['volumeClaimTemplates'] as Manifest[]).find((t) => t['metadata']['name'] === 'data')!;
    const volumeBytes = quantityBytes(claim['spec']['resources']['requests']['storage'] as string);
    // etcd's default quota (2 GiB) applies when the flag is absent.
    const quota = Number(flag('quota-backend-bytes') ?? 2 * 1024 ** 3);
    // The database, as much again for a snapshot sent to a lagging member, and the WAL (etcd keeps 5 segments of 64 MiB).
    expect(2 * quota + 5 * 64 * 1024 ** 2).toBeLessThanOrEqual(volumeBytes);
  });

  it('the HPA scales the Deployment on the per-pod queue depth that the adapter rule serves and the server exports, before queues fill', () => {
    const hpa = only('HorizontalPodAutoscaler');
    expect(hpa['spec']['scaleTargetRef']).toMatchObject({ apiVersion: deployment['apiVersion'], kind: 'Deployment', name: deployment['metadata']['name'] });
    expect(deployment['spec']['replicas'], 'the HPA owns the replica count').toBeUndefined();
    const [metric] = hpa['spec']['metrics'] as Manifest[];
    expect(metric!['type']).toBe('Pods');

    const adapter = parse(only('ConfigMap', 'brisk-prometheus-adapter-rules')['data']['config.yaml'] as string) as Manifest;
    const [rule] = adapter['rules'] as Manifest[];
    expect(metric!['pods']['metric']['name']).toBe(rule!['name']['as']);
    expect(rule!['resources']['overrides']).toEqual({ namespace: { resource: 'namespace' }, pod: { resource: 'pod' } });
    const series = /^([a-z_]+)\{/.exec(rule!['seriesQuery'] as string)![1]!;
    expect(new RegExp(rule!['name']['matches'] as string).test(series)).toBe(true);

    const exported = new ServerMetrics(
      {
        inFlight: () => 0,
        heldBytes: () => 0,
        versions: () => [{ model: 'm', version: '1', queued: 3, queueCapacity: 8, busySeconds: 0, busyCoreSeconds: 0, inferences: 0, instances: 1, workerExits: 0 }],
        shadows: () => [],
      },
      { pricePerHour: 0, cores: 2, startedAtMs: 0 },
    );
    return exported.registry.getMetricsAsJSON().then((families) => {
      expect(families.map((f) => f.name)).toContain(series);
      // Scaling starts well before a queue refuses requests (BriskQueueSaturated: 80% full).
      const capacity = modelConfigFileSchema.parse({}).dynamic_batching.max_queue_size;
      expect(Number(metric!['pods']['target']['averageValue'])).toBeLessThan(0.8 * capacity);
    });
  });
});

describe('KServe runtime', () => {
  const runtime = only('ServingRuntime');
  const container = runtime['spec']['containers'][0] as Manifest;
  const config = serverConfig(container);

  it('serves ONNX over v2 and grpc-v2, on 8080 (HTTP) and 8081 (gRPC, h2c), from /mnt/models, as the server parses its args', () => {
    expect(container['name']).toBe('kserve-container');
    expect(runtime['spec']['protocolVersions']).toEqual(['v2', 'grpc-v2']);
    expect(runtime['spec']['supportedModelFormats']).toEqual([{ name: 'onnx', version: '1', autoSelect: true }]);
    expect(config.modelRepository).toBe('/mnt/models');
    expect(config.httpPort).toBe(8080);
    expect(config.grpcPort).toBe(8081);
    expect(containerPort(container, 'http1')).toBe(config.httpPort);
    expect(containerPort(container, 'h2c')).toBe(config.grpcPort);
    expect(runtime['spec']['annotations']['prometheus.kserve.io/port']).toBe(String(config.httpPort));
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) expect(probePort(container, container[probe]), probe).toBe(config.httpPort);
    expect(container['startupProbe']['httpGet']['path']).toBe('/v2/health/ready');
    expect(container['readinessProbe']['httpGet']['path']).toBe('/v2/health/ready');
    expect(container['livenessProbe']['httpGet']['path']).toBe('/v2/health/live');
    // As in the Deployment: a model that takes its whole load timeout does not get the pod restarted.
    expect(container['startupProbe']['periodSeconds'] * container['startupProbe']['failureThreshold']).toBeGreaterThanOrEqual(config.modelLoadTimeoutSecs);
    const { uid, gid } = imageUser('Dockerfile');
    expect(container['securityContext']).toMatchObject({ runAsNonRoot: true, runAsUser: uid, runAsGroup: gid, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
  });

  it('the InferenceService uses the runtime for an ONNX model, with a grace period above its shutdown, and no HPA of KServe (on CPU)', () => {
    const service = only('InferenceService');
    const predictor = service['spec']['predictor'] as Manifest;
    expect(predictor['model']['runtime']).toBe(runtime['metadata']['name']);
    expect(predictor['model']['modelFormat']['name']).toBe('onnx');
    expect(runtime['spec']['supportedModelFormats'].map((f: Manifest) => f['name'])).toContain(predictor['model']['modelFormat']['name']);
    expect(runtime['spec']['protocolVersions']).toContain(predictor['model']['protocolVersion']);
    expect(predictor['model']['storageUri']).toMatch(/^[a-z0-9]+:\/\/./);
    const drainDelay = Number(flagValue(container, 'drain-delay'));
    expect(config.drainDelaySeconds).toBe(drainDelay);
    expect(predictor['terminationGracePeriodSeconds']).toBeGreaterThanOrEqual(shutdownSecondsAtMost(drainDelay, config.drainTimeoutSeconds, defaultBatchTimeoutMs));
    // Raw mode, where KServe would make an HPA on CPU unless the autoscaler class is external; maxReplicas would be for that HPA.
    expect(service['metadata']['annotations']).toMatchObject({ 'serving.kserve.io/deploymentMode': 'RawDeployment', 'serving.kserve.io/autoscalerClass': 'external' });
    expect(predictor['maxReplicas']).toBeUndefined();
    expect(predictor['scaleMetric']).toBeUndefined();
  });

  it('the GPU image runs as the same user as the CPU image', () => {
    expect(imageUser('deploy/gpu/Dockerfile.gpu')).toEqual(imageUser('Dockerfile'));
    expect(readFileSync(projectFile('deploy', 'gpu', 'Dockerfile.gpu'), 'utf8')).toContain('ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install');
  });
});
