import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { modelConfigFileSchema } from '../../src/models/model-config.js';
import { planWarmup } from '../../src/models/warmup.js';
import { warmupTensors } from '../../src/runtime/warmup-tensors.js';
import { tempDir } from '../helpers/repository.js';

const samples = (warmup: unknown) => modelConfigFileSchema.parse({ model_warmup: warmup }).model_warmup;

describe('model_warmup in config.json', () => {
  it("takes Triton's shape, TYPE_ prefixes included", () => {
    const [sample] = samples([{ name: 'w', batch_size: 2, inputs: { x: { data_type: 'TYPE_FP32', dims: [4], zero_data: true } } }]);
    expect(sample).toEqual({ name: 'w', batch_size: 2, count: 1, inputs: { x: { data_type: 'FP32', dims: [4], zero_data: true } } });
  });

  it('wants exactly one source of data per input', () => {
    const both = modelConfigFileSchema.safeParse({
      model_warmup: [{ name: 'w', inputs: { x: { data_type: 'FP32', dims: [4], zero_data: true, random_data: true } } }],
    });
    expect(both.success).toBe(false);
    const none = modelConfigFileSchema.safeParse({ model_warmup: [{ name: 'w', inputs: { x: { data_type: 'FP32', dims: [4] } } }] });
    expect(none.success).toBe(false);
  });
});

describe('planWarmup', () => {
  const dir = tempDir('warmup');
  mkdirSync(path.join(dir, 'warmup'));
  writeFileSync(path.join(dir, 'warmup', 'row.bin'), Buffer.from(new Float32Array([1, 2, 3, 4]).buffer));
  const outside = tempDir('outside');
  writeFileSync(path.join(outside, 'secret'), 'x'.repeat(16));
  symlinkSync(path.join(outside, 'secret'), path.join(dir, 'warmup', 'link.bin'));
  const fileInput = (file: string, dims = [4]) => samples([{ name: 'w', inputs: { x: { data_type: 'FP32', dims, input_data_file: file } } }]);

  it("reads an input_data_file from the model's warmup folder, as Triton does", () => {
    const [plan] = planWarmup(fileInput('row.bin'), dir);
    expect(plan!.inputs[0]).toMatchObject({ name: 'x', datatype: 'FP32', fill: 'file', bytes: new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer) });
  });

  it('refuses files outside the warmup folder: .., absolute paths and symlinks out', () => {
    expect(() => planWarmup(fileInput('../1/model.onnx'), dir)).toThrow(/relative path inside the model's warmup folder/);
    expect(() => planWarmup(fileInput(path.join(outside, 'secret')), dir)).toThrow(/relative path inside the model's warmup folder/);
    expect(() => planWarmup(fileInput('link.bin'), dir)).toThrow(/leads outside the model's warmup folder/);
    expect(() => planWarmup(fileInput('none.bin'), dir)).toThrow(/does not exist/);
  });

  it('refuses a FIFO at once instead of blocking in open()', () => {
    execFileSync('mkfifo', [path.join(dir, 'warmup', 'pipe.bin')]);
    expect(() => planWarmup(fileInput('pipe.bin'), dir)).toThrow(/not a regular file/);
  });

  it('bounds inputs per sample, elements over all inputs, and checks BYTES files at once', () => {
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`in${i}`, { data_type: 'FP32', dims: [1], zero_data: true }]));
    expect(() => planWarmup(samples([{ name: 'w', inputs: many }]), dir)).toThrow(/65 inputs, more than 64/);
    const wide = Object.fromEntries(Array.from({ length: 3 }, (_, i) => [`in${i}`, { data_type: 'FP32', dims: [1 << 23], zero_data: true }]));
    expect(() => planWarmup(samples([{ name: 'w', inputs: wide }]), dir)).toThrow(/25165824 elements, more than 16777216/);
    writeFileSync(path.join(dir, 'warmup', 'strings.bin'), Buffer.from([9, 0, 0, 0, 104, 105]));
    const strings = samples([{ name: 'w', inputs: { s: { data_type: 'TYPE_STRING', dims: [1], input_data_file: 'strings.bin' } } }]);
    expect(() => planWarmup(strings, dir)).toThrow(/ends inside a BYTES element/);
  });

  it('refuses a file whose size is not one row, and a datatype it cannot run', () => {
    expect(() => planWarmup(fileInput('row.bin', [8]), dir)).toThrow(/holds 16 bytes, one row of FP32 \[8\] is 32/);
    expect(() => planWarmup(samples([{ name: 'w', inputs: { x: { data_type: 'BF16', dims: [4], zero_data: true } } }]), dir)).toThrow(/BF16/);
  });

  it('refuses a sample too large to allocate', () => {
    const huge = samples([{ name: 'w', batch_size: 4096, inputs: { x: { data_type: 'FP32', dims: [65536], zero_data: true } } }]);
    expect(() => planWarmup(huge, dir)).toThrow(/more than 16777216/);
  });
});

describe('warmupTensors', () => {
  const plan = (fill: 'zero' | 'random' | 'file', bytes?: Uint8Array) => ({
    name: 'w',
    batchSize: 3,
    count: 1,
    inputs: [{ name: 'x', datatype: 'FP32' as const, dims: [2], fill, ...(bytes ? { bytes } : {}) }],
  });

  it('adds the batch dimension when the model has one, and repeats the row for every row', () => {
    const [tensor] = warmupTensors(plan('file', new Uint8Array(new Float32Array([5, 6]).buffer)), () => 2);
    expect(tensor!.shape).toEqual([3, 2]);
    expect([...(tensor!.data as Float32Array)]).toEqual([5, 6, 5, 6, 5, 6]);
  });

  it('uses the dims alone for a model without a batch dimension', () => {
    const [tensor] = warmupTensors(plan('zero'), () => 1);
    expect(tensor!.shape).toEqual([2]);
    expect([...(tensor!.data as Float32Array)]).toEqual([0, 0]);
  });

  it('decodes BYTES rows from 4-byte lengths, and names an input the model lacks', () => {
    const bytes = Buffer.concat([Buffer.from([2, 0, 0, 0]), Buffer.from('hi'), Buffer.from([0, 0, 0, 0])]);
    const [tensor] = warmupTensors(
      { name: 'w', batchSize: 1, count: 1, inputs: [{ name: 's', datatype: 'BYTES', dims: [2], fill: 'file', bytes: new Uint8Array(bytes) }] },
      () => 2,
    );
    expect(tensor!.data).toEqual(['hi', '']);
    expect(() => warmupTensors(plan('zero'), () => undefined)).toThrow(/has no input x/);
  });
});
