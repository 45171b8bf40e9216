/**
 * Reads the YAML manifests under deploy/ and checks each against its API's schema, with no
 * cluster and no download: Kubernetes and prometheus-operator kinds with the kubernetes-models
 * validators (generated from their OpenAPI schemas), KServe's with the CRD schemas vendored in
 * deploy/schemas/kserve/.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { PodMonitor, PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, PersistentVolumeClaim, Service } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';
import { projectFile } from '../../src/project-files.js';

/** A manifest as parsed: a plain object, reached into by the tests. */
export type Manifest = Record<string, any>;

export interface ManifestFile {
  /** From the project root, e.g. deploy/kubernetes/deployment.yaml. */
  file: string;
  documents: Manifest[];
}

/** Every *.yaml in a folder of deploy/, each document parsed (a YAML error throws). */
export function readManifests(folder: string): ManifestFile[] {
  const dir = projectFile('deploy', folder);
  return readdirSync(dir)
    .filter((name) => name.endsWith('.yaml'))
    .sort()
    .map((name) => {
      const file = path.posix.join('deploy', folder, name);
      const documents = parseAllDocuments(readFileSync(path.join(dir, name), 'utf8')).map((doc) => {
        if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
        return doc.toJS() as Manifest;
      });
      return { file, documents };
    });
}

interface Validatable {
  validate(): void;
}
const KUBERNETES_KINDS: Record<string, new (data: never) => Validatable> = {
  'apps/v1 Deployment': Deployment,
  'apps/v1 StatefulSet': StatefulSet,
  'v1 Service': Service,
  'v1 ConfigMap': ConfigMap,
  'v1 PersistentVolumeClaim': PersistentVolumeClaim,
  'policy/v1 PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2 HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'monitoring.coreos.com/v1 PodMonitor': PodMonitor,
  'monitoring.coreos.com/v1 PrometheusRule': PrometheusRule,
};

type JsonSchema = Record<string, unknown>;

/**
 * The schema with every object that lists its properties closed to others, unless it says it
 * keeps unknown fields: what the API server's strict field validation (kubectl's default) does
 * with a structural CRD schema, where ajv alone would let a misspelt field through.
 */
export function strictSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(strictSchema);
  if (schema === null || typeof schema !== 'object') return schema;
  const copy = Object.fromEntries(Object.entries(schema).map(([key, value]) => [key, key === 'enum' ? value : strictSchema(value)])) as JsonSchema;
  if (copy['properties'] && copy['additionalProperties'] === undefined && copy['x-kubernetes-preserve-unknown-fields'] !== true) copy['additionalProperties'] = false;
  return copy;
}

// Kubernetes' own keywords carry no constraint ajv could check; its formats (int32, quantity)
// are not JSON Schema's.
const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });

function kserveSchema(name: string): JsonSchema {
  return JSON.parse(readFileSync(projectFile('deploy', 'schemas', 'kserve', name), 'utf8')) as JsonSchema;
}
const SERVING_RUNTIME = kserveSchema('servingruntime.v1alpha1.json');
const INFERENCE_SERVICE = kserveSchema('inferenceservice.v1beta1.json');
const KSERVE_KINDS: Record<string, ValidateFunction> = {
  'serving.kserve.io/v1alpha1 ServingRuntime': ajv.compile(strictSchema(SERVING_RUNTIME) as JsonSchema),
  'serving.kserve.io/v1beta1 InferenceService': ajv.compile(strictSchema(INFERENCE_SERVICE) as JsonSchema),
};

const at = (schema: JsonSchema, ...keys: string[]): JsonSchema => keys.reduce((s, key) => s[key] as JsonSchema, schema);
/**
 * core/v1 Container, Volume and PodSecurityContext as the KServe CRDs embed them (generated from
 * k8s.io/api), checked strictly: the kubernetes-models validators check types and required
 * fields but let unknown ones through, and a misspelt probe or mount would be dropped unseen.
 */
export const strictPodParts = {
  container: ajv.compile(strictSchema(at(SERVING_RUNTIME, 'properties', 'spec', 'properties', 'containers', 'items')) as JsonSchema),
  volume: ajv.compile(strictSchema(at(SERVING_RUNTIME, 'properties', 'spec', 'properties', 'volumes', 'items')) as JsonSchema),
  podSecurityContext: ajv.compile(
    strictSchema(at(INFERENCE_SERVICE, 'properties', 'spec', 'properties', 'predictor', 'properties', 'securityContext')) as JsonSchema,
  ),
};

/** Problems of one parsed manifest against its kind's schema; empty when it is valid. */
export function schemaProblems(manifest: Manifest): string[] {
  const kind = `${String(manifest['apiVersion'])} ${String(manifest['kind'])}`;
  const Model = KUBERNETES_KINDS[kind];
  if (Model) {
    try {
      new Model(manifest as never).validate();
      return [];
    } catch (error) {
      return [error instanceof Error ? error.message : String(error)];
    }
  }
  const validate = KSERVE_KINDS[kind];
  if (validate) return validate(manifest) ? [] : problems(validate);
  return [`no schema for ${kind}`];
}

/** ajv's errors of its last call, one line each. */
export function problems(validate: ValidateFunction): string[] {
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword}${e.keyword === 'additionalProperties' ? `: ${String(e.params['additionalProperty'])}` : ''}`);
}
