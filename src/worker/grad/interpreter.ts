/**
 * Evaluates an ONNX model's own graph with @tensorflow/tfjs-core ops, so that tfjs's autodiff
 * can differentiate it. onnxruntime-web has no gradients; this is how the app gets ∂score/∂A.
 *
 * - Weights: float initializers become tfjs tensors once, at load (float16 and double as
 *   float32); integer initializers stay JS arrays for shape math (see ./values.ts).
 * - Quantized files: DynamicQuantizeLinear → MatMulInteger / ConvInteger chains are rewritten
 *   into differentiable nodes (./quantized.ts); 4-bit MatMulNBits / MatMulBnb4 weights are
 *   dequantised once into a float MatMul (./blockQuantized.ts).
 * - Every node must be an op of ./ops.ts; anything else is refused at load with the op's name.
 * - {@link OnnxInterpreter.run} is synchronous and creates tensors: call it inside `tf.tidy`,
 *   `tf.grads`/`tf.valueAndGrads`, and dispose what you keep.
 */
import * as tf from '@tensorflow/tfjs-core';
import { foldBlockQuantizedMatMuls } from './blockQuantized';
import { parseModel, type ModelNode } from './onnxModel';
import { constantValue, markConstant, OPS, type OpContext } from './ops';
import {
  foldQuantizedGathers,
  INTERNAL_DOMAIN,
  loadQuantizedWeight,
  quantizeDequantize,
  quantizedMatMul,
  rewriteQuantizedMatMuls,
  type QuantizedMode,
  type QuantizedWeight,
} from './quantized';
import { host, tensorValue, toFloat, type Value } from './values';

/** The node types ./quantized.ts writes into a graph. */
const INTERNAL_OPS = new Set(['QuantizedMatMul', 'DynamicQuantizeDequantize']);

/** Options of {@link OnnxInterpreter.load}. */
export interface InterpreterOptions {
  /** The file's name, used in messages, e.g. `'onnx/vision_model_quantized.onnx'`. */
  readonly name: string;
  /** Forward pass of rewritten quantized MatMuls; see ./quantized.ts. Default `'exact'`. */
  readonly quantized?: QuantizedMode;
}

/** An input to {@link OnnxInterpreter.run}. */
export type Feed =
  /** float32 values, e.g. `pixel_values` (1, 3, H, W). */
  | { readonly kind: 'float'; readonly data: Float32Array; readonly dims: readonly number[] }
  /** Integer values (int64/int32 inputs), e.g. `input_ids` (1, tokens); kept as JS numbers. */
  | { readonly kind: 'int'; readonly data: ArrayLike<number>; readonly dims: readonly number[] }
  /** A float tensor the caller owns, e.g. an internal activation to start the graph from. */
  | { readonly kind: 'tensor'; readonly tensor: tf.Tensor };

/** Options of {@link OnnxInterpreter.run}. */
export interface RunOptions {
  /** Tensors to compute; default: the graph outputs. Only the nodes they need are evaluated. */
  readonly outputs?: readonly string[];
  /**
   * Called when the tensor of that name has been computed, with its value; whatever it returns
   * is what the graph's later nodes see. Used to add δ after each attention Softmax.
   */
  readonly hooks?: ReadonlyMap<string, (t: tf.Tensor) => tf.Tensor>;
  /** How this run computes the 8-bit chains of `_quantized` / `_uint8` / `_int8` files; default: the interpreter's mode. */
  readonly quantized?: QuantizedMode;
}

/** The model uses operators the interpreter does not implement. */
export class UnsupportedOpError extends Error {
  /** `opType` (with `domain:` prefix outside the default domain), each once. */
  readonly ops: readonly string[];
  readonly model: string;

  constructor(model: string, ops: readonly string[]) {
    super(
      `${model} uses ONNX operator${ops.length > 1 ? 's' : ''} ${ops.join(', ')} that the gradient interpreter does not ` +
        'implement, so gradient relevance is not available for this model file (raw attention and rollout still work; ' +
        'the fp32 file of the same model may be supported).',
    );
    this.name = 'UnsupportedOpError';
    this.ops = ops;
    this.model = model;
  }
}

/** A loaded graph with its weights as tfjs tensors. Call {@link dispose} when done. */
export class OnnxInterpreter {
  /** The file's name, as given at load. */
  readonly name: string;
  /** Graph inputs (initializers excluded), e.g. `['pixel_values']`. */
  readonly inputs: readonly string[];
  /** Graph outputs, e.g. `['image_embeds']`. */
  readonly outputs: readonly string[];
  /** Bytes held by the weight tensors (float32), for memory accounting. */
  readonly weightBytes: number;

  private readonly nodes: readonly ModelNode[];
  private readonly constants: Map<string, Value>;
  private readonly quantized: Map<string, QuantizedWeight>;
  private readonly mode: QuantizedMode;
  private readonly derivedCache = new Map<string, tf.Tensor>();
  private readonly plans = new Map<string, readonly ModelNode[]>();
  private readonly ctx: OpContext;
  private disposed = false;

  private constructor(
    name: string,
    opset: number,
    graph: { nodes: readonly ModelNode[]; inputs: readonly string[]; outputs: readonly string[] },
    constants: Map<string, Value>,
    quantized: Map<string, QuantizedWeight>,
    mode: QuantizedMode,
  ) {
    this.name = name;
    this.nodes = graph.nodes;
    this.inputs = graph.inputs;
    this.outputs = graph.outputs;
    this.constants = constants;
    this.quantized = quantized;
    this.mode = mode;
    let bytes = 0;
    for (const v of constants.values()) if (v.kind === 'tensor') bytes += 4 * v.tensor.size;
    for (const q of quantized.values()) bytes += 4 * q.wInt.size;
    this.weightBytes = bytes;
    this.ctx = {
      model: name,
      opset,
      derived: (key, make) => {
        let t = this.derivedCache.get(key);
        if (!t) {
          t = tf.keep(make());
          this.derivedCache.set(key, t);
        }
        return t;
      },
    };
  }

  /**
   * Parses a model and uploads its weights (synchronously, on the current tfjs backend).
   *
   * @param bytes the whole `.onnx` file (a stock export; a patched one works too).
   * @throws UnsupportedOpError naming every operator the interpreter lacks, before any tensor is made.
   * @throws UnsupportedModelError when the bytes are not a complete ONNX model.
   */
  static load(bytes: Uint8Array, options: InterpreterOptions): OnnxInterpreter {
    const model = parseModel(bytes, options.name);
    const opset = model.opsets.get('') ?? 1;
    const gathers = foldQuantizedGathers(model.nodes, model.initializers);
    const blocks = foldBlockQuantizedMatMuls(gathers.nodes, gathers.initializers);
    const { nodes: rewritten, initializers, specs } = rewriteQuantizedMatMuls(blocks.nodes, blocks.initializers);

    const unsupported = new Set<string>();
    for (const n of rewritten) {
      const known = n.domain === INTERNAL_DOMAIN ? INTERNAL_OPS.has(n.opType) : n.domain === '' && Object.hasOwn(OPS, n.opType);
      if (!known) unsupported.add(n.domain ? `${n.domain}:${n.opType}` : n.opType);
      if ([...n.attrs.values()].some((a) => a.hasGraph)) unsupported.add(`${n.opType} (with a subgraph)`);
    }
    if (unsupported.size > 0) throw new UnsupportedOpError(options.name, [...unsupported].sort());

    const constants = new Map<string, Value>();
    const made: tf.Tensor[] = [];
    try {
      const ctx: OpContext = { model: options.name, opset, derived: (_k, make) => make() };
      const nodes: ModelNode[] = [];
      for (const n of rewritten) {
        if (n.opType !== 'Constant') {
          nodes.push(n);
          continue;
        }
        const impl = OPS['Constant'];
        const out = n.outputs[0];
        if (!impl || !out) continue;
        const [v] = impl(n, [], ctx);
        if (v) {
          constants.set(out, markConstant(v));
          if (v.kind === 'tensor') made.push(v.tensor);
        }
      }
      const used = new Set([...nodes.flatMap((n) => n.inputs), ...model.outputs]);
      for (const [name, t] of initializers) {
        if (!used.has(name) || constants.has(name)) continue;
        const v = markConstant(constantValue(t));
        constants.set(name, v);
        if (v.kind === 'tensor') made.push(v.tensor);
      }
      const quantized = new Map<string, QuantizedWeight>();
      for (const [out, spec] of specs) {
        const w = loadQuantizedWeight(spec);
        made.push(w.wInt, w.wScale);
        quantized.set(out, w);
      }
      return new OnnxInterpreter(
        options.name,
        opset,
        { nodes, inputs: model.inputs, outputs: model.outputs },
        constants,
        quantized,
        options.quantized ?? 'exact',
      );
    } catch (e) {
      for (const t of made) t.dispose();
      throw e;
    }
  }

  /**
   * Evaluates the nodes needed for `options.outputs` (default: the graph outputs).
   *
   * Synchronous; every tensor it creates belongs to the caller's `tf.tidy` / `tf.grads` scope.
   * Returned values may be constants of the interpreter (never dispose those individually).
   *
   * @param feeds graph inputs by name (and/or internal tensors to start from).
   * @returns the requested values by name.
   * @throws Error naming the model, node and op when an op fails (e.g. a shape mismatch).
   */
  run(feeds: Readonly<Record<string, Feed>>, options: RunOptions = {}): Map<string, Value> {
    if (this.disposed) throw new Error(`${this.name}: the interpreter was disposed`);
    const outputs = options.outputs ?? this.outputs;
    const env = new Map<string, Value>(this.constants);
    for (const [name, feed] of Object.entries(feeds)) env.set(name, feedValue(feed));
    const hooks = options.hooks;
    const mode = options.quantized ?? this.mode;
    for (const node of this.plan(outputs, Object.keys(feeds))) {
      const ins = node.inputs.map((name) => {
        if (!name) return undefined;
        const v = env.get(name);
        if (!v) throw new Error(`${this.name}: node "${node.name}" (${node.opType}) needs "${name}", which nothing computes: is an input missing?`);
        return v;
      });
      let outs: Value[];
      try {
        outs = this.evaluate(node, ins, mode);
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        throw new Error(`${this.name}: node "${node.name || node.outputs[0]}" (${node.opType}) failed: ${msg}`, { cause: e });
      }
      node.outputs.forEach((name, i) => {
        const v = outs[i];
        if (!name || !v) return;
        const hook = hooks?.get(name);
        env.set(name, hook && v.kind === 'tensor' ? tensorValue(hook(v.tensor), v.elem, v.half) : v);
      });
    }
    const result = new Map<string, Value>();
    for (const name of outputs) {
      const v = env.get(name);
      if (!v) throw new Error(`${this.name}: nothing computes "${name}"`);
      result.set(name, v);
    }
    return result;
  }

  /** Frees every weight tensor. The interpreter cannot run afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.constants.values()) if (v.kind === 'tensor') v.tensor.dispose();
    for (const q of this.quantized.values()) {
      q.wInt.dispose();
      q.wScale.dispose();
    }
    for (const t of this.derivedCache.values()) t.dispose();
    this.derivedCache.clear();
  }

  private evaluate(node: ModelNode, ins: readonly (Value | undefined)[], mode: QuantizedMode): Value[] {
    if (node.domain === INTERNAL_DOMAIN && node.opType === 'DynamicQuantizeDequantize') {
      const x = ins[0];
      if (!x) throw new Error('input missing');
      return [tensorValue(quantizeDequantize(toFloat(x), mode))];
    }
    if (node.domain === INTERNAL_DOMAIN) {
      const out = node.outputs[0] ?? '';
      const w = this.quantized.get(out);
      const x = ins[0];
      if (!w || !x) throw new Error('quantized weight or input missing');
      const deq = () => this.ctx.derived(`${out}:dequantized`, () => tf.mul(w.wInt, w.wScale));
      return [tensorValue(quantizedMatMul(toFloat(x), w, mode, deq))];
    }
    const impl = OPS[node.opType];
    if (!impl) throw new UnsupportedOpError(this.name, [node.opType]);
    return impl(node, ins, this.ctx);
  }

  /** The nodes needed for `outputs` given `fed` tensors, in graph order (cached). */
  private plan(outputs: readonly string[], fed: readonly string[]): readonly ModelNode[] {
    const key = `${outputs.join('\u0000')}\u0001${[...fed].sort().join('\u0000')}`;
    const cached = this.plans.get(key);
    if (cached) return cached;
    const given = new Set(fed);
    const needed = new Set(outputs.filter((o) => !given.has(o)));
    const plan: ModelNode[] = [];
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const n = this.nodes[i] as ModelNode;
      if (!n.outputs.some((o) => needed.has(o))) continue;
      plan.push(n);
      for (const input of n.inputs) if (input && !given.has(input) && !this.constants.has(input)) needed.add(input);
    }
    plan.reverse();
    this.plans.set(key, plan);
    return plan;
  }
}

function feedValue(feed: Feed): Value {
  switch (feed.kind) {
    case 'float':
      return tensorValue(tf.tensor(feed.data, [...feed.dims], 'float32'));
    case 'int':
      return host('int', [...feed.dims], Array.from(feed.data));
    case 'tensor':
      return tensorValue(feed.tensor);
  }
}

/** The value as a float32 tensor (int/bool values converted); for reading outputs. */
export function outputTensor(v: Value): tf.Tensor {
  return toFloat(v);
}
