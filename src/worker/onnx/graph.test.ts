import { describe, expect, test } from 'vitest';
import { goldenFile, modelFile } from '../../testing/golden';
import { patchOutputs } from './attention';
import { fixtureModel, modelError } from './fixtures';
import { DataType, readInitializer, summarizeModel } from './graph';
import { Writer, WireType, varintSize } from './protobuf';
import { halfBitsToFloat32 } from './tensors';

const FILES = ['vision_model', 'text_model'].flatMap((e) => ['', '_fp16', '_quantized'].map((v) => `${e}${v}`));


describe('bundled models', () => {
  test.each(FILES)('%s: summary has the transformers.js interface', (file) => {
    const bytes = modelFile(`onnx/${file}.onnx`);
    const t0 = performance.now();
    const s = summarizeModel(bytes);
    const ms = performance.now() - t0;
    console.log(`walk ${file}.onnx (${(bytes.length / 1e6).toFixed(1)} MB): ${ms.toFixed(1)} ms, ${s.nodes.length} nodes, ${s.initializers.length} initializers`);
    const [input, output] = file.startsWith('vision') ? ['pixel_values', 'image_embeds'] : ['input_ids', 'text_embeds'];
    expect(s.inputs).toEqual([input]);
    expect(s.outputs).toEqual([output]);
    expect(s.graphFields).toBe(1);
    expect(s.irVersion).toBeGreaterThanOrEqual(3);
    expect(s.opsetImports.some((o) => o.domain === '' && o.version >= 13)).toBe(true);
    expect(s.nodes.length).toBeGreaterThan(0);
    expect(s.nodes.map((n) => n.index)).toEqual(s.nodes.map((_, i) => i));
    // Every node input is a graph input, an initializer or an earlier node's output (topological order).
    const known = new Set([...s.inputs, ...s.initializers.map((i) => i.name), '']);
    for (const n of s.nodes) {
      for (const i of n.inputs) expect(known.has(i), `${n.opType} ${n.name} input ${i}`).toBe(true);
      for (const o of n.outputs) known.add(o);
    }
    for (const o of s.outputs) expect(known.has(o)).toBe(true);
  });

  test.each(['vision_model', 'text_model'])('%s: every fp16 weight equals the fp32 weight rounded to half', (stem) => {
    const fp32 = modelFile(`onnx/${stem}.onnx`);
    const fp16 = modelFile(`onnx/${stem}_fp16.onnx`);
    const floats = summarizeModel(fp32).initializers.filter((i) => i.dataType === DataType.FLOAT);
    expect(floats.length).toBeGreaterThan(0);
    const t0 = performance.now();
    for (const info of floats) {
      const a = readInitializer(fp32, info.name);
      const b = readInitializer(fp16, info.name);
      if (!a || !b) throw new Error(`missing ${info.name}`);
      expect(a.dims).toEqual(info.dims);
      expect(b.dims).toEqual(info.dims);
      expect(b.dataType).toBe(DataType.FLOAT16);
      // raw_data comes back as a view into the file, not a copy.
      expect(a.data.buffer).toBe(fp32.buffer);
      const x = new Float32Array(a.data.slice().buffer);
      const h = halfBitsToFloat32(new Uint16Array(b.data.slice().buffer));
      // Round-to-nearest half: relative error ≤ 2^-11 for normals, absolute ≤ 2^-25 for subnormals.
      let worst = -1;
      for (let i = 0; i < x.length; i++) {
        const v = x[i] as number;
        if (Math.abs((h[i] as number) - v) > Math.abs(v) * 2 ** -11 + 2 ** -25) worst = i;
      }
      expect(worst, `${info.name}[${worst}]: ${x[worst]} vs half ${h[worst]}`).toBe(-1);
    }
    console.log(`readInitializer: ${floats.length} weights of ${stem} in fp32 and fp16, ${(performance.now() - t0).toFixed(0)} ms`);
  });

  test('an unknown initializer name gives undefined', () => {
    expect(readInitializer(modelFile('onnx/vision_model.onnx'), 'no such weight')).toBeUndefined();
  });
});

describe('synthetic models', () => {
  test('typed TensorProto fields are packed into little-endian bytes', () => {
    const bytes = fixtureModel({
      nodes: [{ opType: 'Identity', inputs: ['x'], outputs: ['y'] }],
      inputs: ['x'],
      outputs: ['y'],
      initializers: [
        { name: 'f', dims: [3], dataType: DataType.FLOAT, floatData: [1.5, -2, 3.25] },
        { name: 'i64', dims: [2, 2], dataType: DataType.INT64, int64Data: [-1, 0, 2 ** 40, 7] },
        { name: 'half', dims: [2], dataType: DataType.FLOAT16, int32Data: [0x3c00, 0xc000] },
        { name: 'u8', dims: [3], dataType: DataType.UINT8, int32Data: [1, 255, 0] },
        { name: 'raw', dims: [], dataType: DataType.INT32, raw: new Uint8Array([1, 2, 0, 0]) },
      ],
    });
    const s = summarizeModel(bytes);
    expect(s.initializers.map((i) => [i.name, i.dims, i.dataType])).toEqual([
      ['f', [3], DataType.FLOAT],
      ['i64', [2, 2], DataType.INT64],
      ['half', [2], DataType.FLOAT16],
      ['u8', [3], DataType.UINT8],
      ['raw', [], DataType.INT32],
    ]);
    const data = (name: string): Uint8Array => {
      const t = readInitializer(bytes, name);
      if (!t) throw new Error(name);
      return t.data.slice();
    };
    expect([...new Float32Array(data('f').buffer)]).toEqual([1.5, -2, 3.25]);
    expect([...new BigInt64Array(data('i64').buffer)]).toEqual([-1n, 0n, 2n ** 40n, 7n]);
    expect([...halfBitsToFloat32(new Uint16Array(data('half').buffer))]).toEqual([1, -2]);
    expect([...data('u8')]).toEqual([1, 255, 0]);
    expect([...new Int32Array(data('raw').buffer)]).toEqual([513]);
  });

  test('a weight in external data is refused with a reason', () => {
    const bytes = fixtureModel({
      nodes: [{ opType: 'Identity', inputs: ['w'], outputs: ['y'] }],
      inputs: [],
      outputs: ['y'],
      initializers: [{ name: 'w', dims: [1024], dataType: DataType.FLOAT, external: true }],
    });
    expect(summarizeModel(bytes).initializers[0]?.name).toBe('w');
    const e = modelError(() => readInitializer(bytes, 'w'));
    expect(e.reason).toBe('external-data');
    expect(e.message).toMatch(/outside the \.onnx file/);
  });

  test('a weight whose data does not fill its shape is reported as damaged', () => {
    const bytes = fixtureModel({
      nodes: [],
      inputs: [],
      outputs: [],
      initializers: [{ name: 'w', dims: [4], dataType: DataType.FLOAT, raw: new Uint8Array(12) }],
    });
    expect(modelError(() => readInitializer(bytes, 'w')).message).toMatch(/holds 12 bytes .* needs 16/);
  });

  test('repeated graph fields merge: nodes and outputs are concatenated', () => {
    const base = fixtureModel({
      nodes: [
        { opType: 'Relu', inputs: ['x'], outputs: ['h'] },
        { opType: 'Neg', inputs: ['h'], outputs: ['y'] },
      ],
      inputs: ['x'],
      outputs: ['y'],
    });
    const patched = patchOutputs(base, ['h']);
    const s = summarizeModel(patched);
    expect(s.graphFields).toBe(2);
    expect(s.outputs).toEqual(['y', 'h']);
    expect(s.nodes.map((n) => n.opType)).toEqual(['Relu', 'Neg']);
    expect(s.graphName).toBe('fixture'); // the appended graph has no name: merging keeps the old one
  });

  test('a ~350 MB model is walked by skipping its weights (timing noted, not asserted)', () => {
    const bytes = bigModel(4, 88 * 2 ** 20);
    const t0 = performance.now();
    const s = summarizeModel(bytes);
    const t1 = performance.now();
    const last = readInitializer(bytes, 'w3');
    const t2 = performance.now();
    console.log(
      `walk synthetic ${(bytes.length / 1e6).toFixed(0)} MB model: summary ${(t1 - t0).toFixed(1)} ms, ` +
        `readInitializer(last) ${(t2 - t1).toFixed(1)} ms`,
    );
    expect(s.initializers.map((i) => i.name)).toEqual(['w0', 'w1', 'w2', 'w3']);
    expect(s.outputs).toEqual(['y']);
    expect(last?.data.length).toBe(88 * 2 ** 20);
    expect(last?.data.buffer).toBe(bytes.buffer);
  });
});

describe('bytes that are not an ONNX model', () => {
  const model = modelFile('onnx/text_model.onnx');
  const text = (s: string): Uint8Array => new TextEncoder().encode(s);

  test.each([
    ['an HTML error page', text('<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body>Not Found</body></html>'), /HTML page/],
    ['a JSON body', modelFile('config.json'), /JSON/],
    ['a Git LFS pointer', text('version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n'), /Git LFS pointer/],
    ['plain text', text('Rate limit exceeded. Try again later.'), /text file/],
    ['a PNG image', goldenFile('scene0.png'), /not a valid ONNX protobuf/],
    ['an empty file', new Uint8Array(0), /empty/],
  ])('%s', (_, bytes, detail) => {
    const e = modelError(() => summarizeModel(bytes));
    expect(e.reason).toBe('not-onnx');
    expect(e.message).toMatch(/not an ONNX model|empty/);
    expect(e.message).toMatch(detail);
  });

  test('random bytes never hang and never pass', () => {
    let seed = 12345;
    const next = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed >>> 24;
    };
    for (let trial = 0; trial < 200; trial++) {
      const bytes = Uint8Array.from({ length: 64 + trial * 37 }, next);
      expect(['not-onnx', 'truncated']).toContain(modelError(() => summarizeModel(bytes)).reason);
    }
  });

  test('every truncation of a real model is reported as incomplete', () => {
    const cuts = [...Array.from({ length: 39 }, (_, k) => Math.floor((model.length * (k + 1)) / 40)), 100, model.length - 1];
    for (const cut of cuts) {
      const e = modelError(() => summarizeModel(model.subarray(0, cut)));
      expect(e.reason, `cut at ${cut}`).toBe('truncated');
      expect(e.message).toMatch(/incomplete or damaged.*clear the cached model/);
    }
  });

  test('readInitializer reports truncation too', () => {
    expect(modelError(() => readInitializer(model.subarray(0, model.length / 2), 'no such weight')).reason).toBe('truncated');
  });
});

/** A ModelProto with `count` float weights of `size` bytes each, built without copying the weights. */
function bigModel(count: number, size: number): Uint8Array {
  const headers = Array.from({ length: count }, (_, i) =>
    new Writer()
      .int64(1, size / 4)
      .int64(2, DataType.FLOAT)
      .string(8, `w${i}`)
      .tag(9, WireType.Len)
      .rawVarint(size)
      .finish(),
  );
  const nodes = new Writer().message(1, (n) => n.string(1, 'x').string(1, 'w0').string(2, 'y').string(4, 'MatMul')).finish();
  const io = new Writer().message(11, (v) => v.string(1, 'x')).message(12, (v) => v.string(1, 'y')).finish();
  const tensorLen = headers.map((h) => h.length + size);
  const graphLen = nodes.length + io.length + tensorLen.reduce((a, n) => a + 1 + varintSize(n) + n, 0);
  const head = new Writer().int64(1, 8).tag(7, WireType.Len).rawVarint(graphLen).finish();
  const tail = new Writer().message(8, (o) => o.int64(2, 14)).finish();
  const out = new Uint8Array(head.length + graphLen + tail.length);
  let at = 0;
  const put = (b: Uint8Array): void => {
    out.set(b, at);
    at += b.length;
  };
  put(head);
  put(nodes);
  headers.forEach((h, i) => {
    put(new Writer().tag(5, WireType.Len).rawVarint(tensorLen[i] as number).finish());
    put(h);
    at += size; // the weight bytes stay zero
  });
  put(io);
  put(tail);
  expect(at).toBe(out.length);
  return out;
}
