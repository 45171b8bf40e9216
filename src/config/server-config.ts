/**
 * Every server setting in one table: its flag, its environment variable, its
 * schema with the default. Values come from (last wins) defaults, the config
 * file, the environment, then flags; they are validated once at start and
 * frozen. No other module reads process.env or argv.
 */
import { z } from 'zod';

const port = () => z.coerce.number().int().min(0).max(65535);

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const OPTIONS = {
  modelRepository: { flag: 'model-repository', env: 'BRISK_MODEL_REPOSITORY', help: 'model repository folder', schema: z.string().min(1).default('./models') },
  host: { flag: 'host', env: 'BRISK_HOST', help: 'address the HTTP and gRPC ports listen on', schema: z.string().min(1).default('0.0.0.0') },
  httpPort: { flag: 'http-port', env: 'BRISK_HTTP_PORT', help: 'REST port (0 picks a free one)', schema: port().default(8000) },
  grpcPort: { flag: 'grpc-port', env: 'BRISK_GRPC_PORT', help: 'gRPC port (0 picks a free one)', schema: port().default(8001) },
  adminPort: { flag: 'admin-port', env: 'BRISK_ADMIN_PORT', help: 'admin API port (0 picks a free one)', schema: port().default(8002) },
  adminHost: {
    flag: 'admin-host',
    env: 'BRISK_ADMIN_HOST',
    help: 'address the admin API listens on',
    schema: z.string().min(1).default('127.0.0.1'),
  },
  adminToken: {
    // No flag: a token on the command line would show in `ps`.
    flag: undefined,
    env: 'ADMIN_TOKEN',
    help: 'bearer token for the admin API',
    schema: z.string().min(16, 'must be at least 16 characters').optional(),
  },
  adminTokenFile: {
    flag: 'admin-token-file',
    env: 'BRISK_ADMIN_TOKEN_FILE',
    help: 'file of admin tokens, one per line: "<name> <token>" or "<token>"',
    schema: z.string().min(1).optional(),
  },
  stateDir: {
    flag: 'state-dir',
    env: 'BRISK_STATE_DIR',
    help: 'folder for state that survives restarts (routes)',
    schema: z.string().min(1).default('./state'),
  },
  routeStore: {
    flag: 'route-store',
    env: 'BRISK_ROUTE_STORE',
    help: 'where routes, their history, the audit trail and rollouts are kept: file (--state-dir, one replica) or etcd (shared by every replica)',
    schema: z.enum(['file', 'etcd']).default('file'),
  },
  etcdEndpoints: {
    flag: 'etcd-endpoints',
    env: 'BRISK_ETCD_ENDPOINTS',
    help: 'etcd members, comma-separated (http://host:2379 or https://host:2379), for --route-store etcd',
    schema: z
      .string()
      .transform((v) => v.split(',').map((e) => e.trim()).filter((e) => e !== ''))
      .refine((list) => list.every((e) => /^https?:\/\/[^/\s]+\/?$/.test(e)), 'each endpoint must be http://host:port or https://host:port')
      .optional(),
  },
  etcdPrefix: {
    flag: 'etcd-prefix',
    env: 'BRISK_ETCD_PREFIX',
    help: 'key prefix of this cluster of replicas in etcd; replicas with the same prefix share their routes',
    schema: z.string().regex(/^\/.*\/$/, 'must start and end with /').default('/brisk/default/'),
  },
  etcdCaFile: { flag: 'etcd-ca-file', env: 'BRISK_ETCD_CA_FILE', help: 'CA certificate (PEM) to verify etcd with TLS', schema: z.string().min(1).optional() },
  etcdCertFile: { flag: 'etcd-cert-file', env: 'BRISK_ETCD_CERT_FILE', help: 'client certificate (PEM) for etcd mutual TLS', schema: z.string().min(1).optional() },
  etcdKeyFile: { flag: 'etcd-key-file', env: 'BRISK_ETCD_KEY_FILE', help: 'client key (PEM) for etcd mutual TLS', schema: z.string().min(1).optional() },
  etcdUsername: { flag: 'etcd-username', env: 'BRISK_ETCD_USERNAME', help: 'etcd user (role-based access)', schema: z.string().min(1).optional() },
  etcdPassword: {
    // No flag: a password on the command line would show in `ps`.
    flag: undefined,
    env: 'BRISK_ETCD_PASSWORD',
    help: "the etcd user's password",
    schema: z.string().min(1).optional(),
  },
  replicaName: {
    flag: 'replica-name',
    env: 'BRISK_REPLICA_NAME',
    help: 'this replica in the leader election of --route-store etcd (default: host name and process id)',
    schema: z.string().min(1).max(253).optional(),
  },
  repositoryPollSecs: {
    flag: 'repository-poll-secs',
    env: 'BRISK_REPOSITORY_POLL_SECS',
    help: 'rescan the model repository every N seconds and load, reload or unload what changed (0: off)',
    schema: z.coerce.number().min(0).max(86_400).default(0),
  },
  modelLoadTimeoutSecs: {
    flag: 'model-load-timeout',
    env: 'BRISK_MODEL_LOAD_TIMEOUT',
    help: 'seconds a model version may take to load and warm up; past it the load fails and nothing changes',
    schema: z.coerce.number().min(1).max(86_400).default(300),
  },
  shadowMaxInFlight: {
    flag: 'shadow-max-in-flight',
    env: 'BRISK_SHADOW_MAX_IN_FLIGHT',
    help: 'shadow copies running at once; more are dropped and counted',
    schema: z.coerce.number().int().min(0).max(100_000).default(64),
  },
  shadowMaxLoad: {
    flag: 'shadow-max-load',
    env: 'BRISK_SHADOW_MAX_LOAD',
    help: 'I/O-thread utilisation (0-1) above which shadow copies are shed; 1 sheds only when --shadow-max-in-flight is reached',
    schema: z.coerce.number().min(0).max(1).default(0.8),
  },
  shadowTimeoutMs: {
    flag: 'shadow-timeout-ms',
    env: 'BRISK_SHADOW_TIMEOUT_MS',
    help: 'longest a shadow copy may wait in its queue',
    schema: z.coerce.number().int().min(1).max(600_000).default(5000),
  },
  metrics: {
    flag: 'metrics',
    env: 'BRISK_METRICS',
    help: 'serve Prometheus metrics on /metrics (true|false)',
    schema: z
      .union([z.boolean(), z.string()])
      .refine((v) => typeof v === 'boolean' || v === 'true' || v === 'false', 'must be true or false')
      .transform((v) => v === true || v === 'true')
      .default(true),
  },
  costPerHour: {
    flag: 'cost-per-hour',
    env: 'BRISK_COST_PER_HOUR',
    help: "the machine's price per hour, for cost per 1k inferences (0: not reported)",
    schema: z.coerce.number().min(0).max(1_000_000).default(0),
  },
  maxBodyBytes: {
    flag: 'max-body-bytes',
    env: 'BRISK_MAX_BODY_BYTES',
    help: 'largest request body accepted, in bytes',
    schema: z.coerce.number().int().min(1024).max(2 ** 31 - 1).default(64 * 1024 * 1024),
  },
  grpcMaxMessageBytes: {
    flag: 'grpc-max-message-bytes',
    env: 'BRISK_GRPC_MAX_MESSAGE_BYTES',
    help: 'largest gRPC message received, in bytes (larger: RESOURCE_EXHAUSTED)',
    schema: z.coerce.number().int().min(1024).max(2 ** 31 - 1).default(64 * 1024 * 1024),
  },
  grpcMaxConcurrentStreams: {
    flag: 'grpc-max-concurrent-streams',
    env: 'BRISK_GRPC_MAX_CONCURRENT_STREAMS',
    help: 'concurrent gRPC calls per connection',
    schema: z.coerce.number().int().min(1).max(1_000_000).default(1024),
  },
  bodyTimeoutMs: {
    flag: 'body-timeout-ms',
    env: 'BRISK_BODY_TIMEOUT_MS',
    help: 'longest a client may take to send a request body; slower ones get 408 and are disconnected',
    schema: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
  },
  maxInflightBytes: {
    flag: 'max-inflight-bytes',
    env: 'BRISK_MAX_INFLIGHT_BYTES',
    help: 'request bytes held at once across all connections; more is refused as overload',
    schema: z.coerce.number().int().min(1024).max(2 ** 40).default(1024 * 1024 * 1024),
  },
  drainDelaySeconds: {
    flag: 'drain-delay',
    env: 'BRISK_DRAIN_DELAY',
    help: 'seconds to go on serving after SIGTERM or SIGINT, with readiness failing, before the listeners close (default 5; 0 on SIGINT from a terminal)',
    // No default here: it depends on the signal, and is decided when one comes (cli.ts).
    schema: z.coerce.number().min(0).max(3600).optional(),
  },
  drainTimeoutSeconds: {
    flag: 'drain-timeout',
    env: 'BRISK_DRAIN_TIMEOUT',
    help: 'seconds to finish queued and running requests once the listeners have closed',
    schema: z.coerce.number().min(0).max(3600).default(30),
  },
  logLevel: { flag: 'log-level', env: 'BRISK_LOG_LEVEL', help: LOG_LEVELS.join('|'), schema: z.enum(LOG_LEVELS).default('info') },
} as const;

export type OptionKey = keyof typeof OPTIONS;

export const serverConfigSchema = z
  .object(Object.fromEntries(Object.entries(OPTIONS).map(([key, o]) => [key, o.schema])) as { [K in OptionKey]: (typeof OPTIONS)[K]['schema'] })
  .strict()
  .check((ctx) => {
    const { routeStore, etcdEndpoints, etcdCertFile, etcdKeyFile, etcdUsername, etcdPassword } = ctx.value;
    if (routeStore === 'etcd' && !etcdEndpoints?.length) ctx.issues.push({ code: 'custom', input: etcdEndpoints, path: ['etcdEndpoints'], message: 'is needed with --route-store etcd' });
    if ((etcdCertFile === undefined) !== (etcdKeyFile === undefined)) ctx.issues.push({ code: 'custom', input: etcdCertFile, path: ['etcdCertFile'], message: 'and --etcd-key-file go together' });
    if ((etcdUsername === undefined) !== (etcdPassword === undefined)) ctx.issues.push({ code: 'custom', input: etcdUsername, path: ['etcdUsername'], message: 'and BRISK_ETCD_PASSWORD go together' });
  })
  .check((ctx) => {
    const { httpPort, grpcPort, adminPort } = ctx.value;
    const ports: [OptionKey, number][] = [['httpPort', httpPort], ['grpcPort', grpcPort], ['adminPort', adminPort]];
    for (let i = 0; i < ports.length; i++) {
      for (let j = i + 1; j < ports.length; j++) {
        if (ports[i]![1] !== 0 && ports[i]![1] === ports[j]![1]) {
          ctx.issues.push({ code: 'custom', input: ports[j]![1], path: [ports[j]![0]], message: `is the same port as ${ports[i]![0]} (${ports[i]![1]})` });
        }
      }
    }
  });

export type ServerConfig = Readonly<z.output<typeof serverConfigSchema>>;
