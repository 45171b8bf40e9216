/**
 * Writes the vendored KServe CRD schemas that test/unit/deploy-manifests.test.ts validates the
 * ServingRuntime and InferenceService against, from a clone of KServe's repository:
 *
 *   node deploy/schemas/kserve/subset.mjs <kserve git dir> <commit>
 *
 * Each is the served storage version's openAPIV3Schema from config/crd/full/, without its
 * descriptions or status. The InferenceService's is cut to the predictor: the canary, transformer
 * and explainer, the predictor's framework-specific specs and workerSpec become objects whose
 * fields are not checked, which takes it from 2 MB of YAML to 70 kB of JSON.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const [gitDir, commit] = process.argv.slice(2);
if (!gitDir || !commit) throw new Error('usage: node subset.mjs <kserve git dir> <commit>');
const here = path.dirname(fileURLToPath(import.meta.url));

const withoutDescriptions = (schema) => {
  if (Array.isArray(schema)) return schema.map(withoutDescriptions);
  if (schema === null || typeof schema !== 'object') return schema;
  return Object.fromEntries(Object.entries(schema).filter(([key]) => key !== 'description').map(([key, value]) => [key, withoutDescriptions(value)]));
};

const unchecked = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };

function vendor(file, out, prune) {
  const crdPath = `config/crd/full/${file}`;
  const crd = parse(execFileSync('git', ['-C', gitDir, 'show', `${commit}:${crdPath}`], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }));
  const version = crd.spec.versions.find((v) => v.storage && v.served);
  const schema = withoutDescriptions(version.schema.openAPIV3Schema);
  delete schema.properties.status;
  prune?.(schema);
  const vendored = {
    $comment: `openAPIV3Schema of ${crd.spec.group}/${version.name} ${crd.spec.names.kind}, from github.com/kserve/kserve (Apache License 2.0) ${crdPath} at ${commit}, without descriptions or status${prune ? '; canary, transformer, explainer, workerSpec and the framework-specific predictor specs are left unchecked' : ''} (deploy/schemas/kserve/subset.mjs)`,
    ...schema,
  };
  writeFileSync(path.join(here, out), `${JSON.stringify(vendored)}\n`);
}

vendor('serving.kserve.io_servingruntimes.yaml', 'servingruntime.v1alpha1.json');
vendor('serving.kserve.io_inferenceservices.yaml', 'inferenceservice.v1beta1.json', (schema) => {
  const spec = schema.properties.spec.properties;
  for (const part of ['transformer', 'explainer', 'canary']) spec[part] = unchecked;
  const predictor = spec.predictor.properties;
  for (const part of ['workerSpec', 'huggingface', 'lightgbm', 'onnx', 'paddle', 'pmml', 'pytorch', 'sklearn', 'tensorflow', 'triton', 'xgboost']) {
    if (predictor[part]) predictor[part] = unchecked;
  }
});
