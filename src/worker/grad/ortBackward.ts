/**
 * ∂score/∂A for every attention layer, computed by ONNX Runtime: the model's own graph with its
 * backward pass appended as more ONNX nodes (reverse-mode differentiation done once, on the
 * graph, here), so one ORT run gives the forward pass, the attention and its gradient.
 *
 * Why: the all-layers relevance through tfjs (./gradients.ts) is a forward and a backward pass on
 * one tfjs thread; ORT runs the same products on all its threads at a higher rate. The numbers
 * are the same as tfjs's autodiff (the chain rule, in the same order); only rounding differs.
 *
 * Like the other patches, nothing is re-encoded: nodes, initializers, one input and the outputs
 * are appended as one more `ModelProto.graph` field (../onnx/graphTail.ts).
 *
 * What is differentiated: the nodes on a path from some attention Softmax output to the embedding
 * output. The seed is ∂score/∂image_embeds for score = |u|·cos(image_embeds, u), with
 * u = logitScale · t̂ fed as the input {@link BackwardGraph.seed} (t̂ the prompt's unit embedding),
 * computed in the graph from the embedding it has just made. Everything else (the weights, and
 * tensors no Softmax feeds, e.g. the first layer's values) is a constant of the backward pass:
 * only input gradients are formed, never weight gradients.
 *
 * Shapes: the backward nodes use the static shapes of one input size ({@link appendBackward}'s
 * `shapes`, read once from a forward pass of the interpreter), so the graph is for batch 1 and
 * that input size only.
 *
 * Covered operators (what CLIP exports put between the attention and the embedding): Add, Sub,
 * Mul, Div, Neg, Pow (constant exponent), Sqrt, Sigmoid, Softmax (opset ≥ 13), ReduceMean, ReduceSum,
 * MatMul, Gemm, Transpose, Reshape, Flatten, Squeeze, Unsqueeze, Identity, Gather (constant
 * scalar index), Slice (constant, step 1), Concat, and float32 tensors only. Anything else throws
 * {@link BackwardUnsupportedError}; the caller then uses the tfjs path.
 */
import { DataType } from '../onnx/graph';
import { GraphTail } from '../onnx/graphTail';
import { decodeTensor, type ModelNode, type ParsedModel } from './onnxModel';

const PREFIX = 'clip_lens_bwd';

/** Operators whose output does not depend differentiably on their inputs' values. */
const NO_GRADIENT = new Set(['Shape', 'Size', 'ArgMax', 'ArgMin', 'Equal', 'Greater', 'Less', 'Not', 'And', 'Or']);

/** The model's graph cannot be differentiated here (an operator, a data type, an old opset). */
export class BackwardUnsupportedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackwardUnsupportedError';
  }
}

/** The nodes to differentiate, and every tensor on those paths. */
export interface BackwardPath {
  /** Nodes on a path from a Softmax output to the output, in graph order. */
  readonly nodes: readonly ModelNode[];
  /** Every input and output of those nodes, and the output: the tensors whose shapes are needed. */
  readonly tensors: readonly string[];
}

/** The patched model and the names to feed and fetch. */
export interface BackwardGraph {
  readonly bytes: Uint8Array;
  /** Input `(1, D)` float32: logitScale · the prompt's unit embedding. */
  readonly seed: string;
  /** Output `(1, 1)`: logitScale · cos(embedding, prompt). */
  readonly score: string;
  /** Outputs: each layer's attention probabilities (the Softmax outputs themselves). */
  readonly attention: readonly string[];
  /** Outputs: ∂score/∂A per layer, A's shape. */
  readonly gradients: readonly string[];
}

/**
 * The nodes between the attention Softmax outputs and `output`.
 * @throws BackwardUnsupportedError when `output` does not depend on them.
 */
export function backwardPath(model: ParsedModel, attention: readonly string[], output: string): BackwardPath {
  const fromSoftmax = new Set(attention);
  for (const node of model.nodes) {
    if (NO_GRADIENT.has(node.opType)) continue; // shape arithmetic carries no gradient
    if (node.inputs.some((i) => fromSoftmax.has(i))) for (const o of node.outputs) if (o) fromSoftmax.add(o);
  }
  const toOutput = new Set([output]);
  const nodes: ModelNode[] = [];
  for (let k = model.nodes.length - 1; k >= 0; k--) {
    const node = model.nodes[k] as ModelNode;
    if (!node.outputs.some((o) => toOutput.has(o) && fromSoftmax.has(o))) continue;
    nodes.push(node);
    for (const i of node.inputs) if (fromSoftmax.has(i)) toOutput.add(i);
  }
  if (!toOutput.has(attention[0] ?? '')) throw new BackwardUnsupportedError(`${output} does not depend on the first attention layer`);
  nodes.reverse();
  const tensors = new Set<string>([output]);
  for (const n of nodes) for (const t of [...n.inputs, ...n.outputs]) if (t) tensors.add(t);
  return { nodes, tensors: [...tensors] };
}

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);
const normAxis = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);

/**
 * Returns `bytes` with the backward pass of `path` appended (see the module comment).
 *
 * @param model `bytes` parsed (./onnxModel.ts `parseModel`).
 * @param attention the Softmax outputs, one per layer, in order.
 * @param output the embedding output, `(1, D)`.
 * @param shapes static shapes of every tensor in `path.tensors`, for batch 1.
 * @throws BackwardUnsupportedError for anything outside the covered operators and types.
 */
export function appendBackward(
  bytes: Uint8Array,
  model: ParsedModel,
  path: BackwardPath,
  attention: readonly string[],
  output: string,
  shapes: ReadonlyMap<string, readonly number[]>,
): BackwardGraph {
  const opset = model.opsets.get('') ?? model.opsets.get('ai.onnx') ?? 1;
  if (opset < 13) throw new BackwardUnsupportedError(`opset ${opset}: the backward graph needs opset 13 or later`);
  const shapeOf = (t: string): readonly number[] => {
    const s = shapes.get(t);
    if (!s) throw new BackwardUnsupportedError(`no shape for "${t}"`);
    return s;
  };
  const onPath = new Set<string>(attention);
  for (const n of path.nodes) for (const o of n.outputs) if (o) onPath.add(o);
  const constants = new Map<string, ReturnType<typeof decodeTensor>>();
  const constant = (name: string) => {
    let c = constants.get(name);
    if (!c) {
      const init = model.initializers.get(name);
      const node = init ? undefined : model.nodes.find((n) => n.opType === 'Constant' && n.outputs[0] === name);
      const t = init ?? node?.attrs.get('value')?.t;
      if (!t) throw new BackwardUnsupportedError(`"${name}" must be a constant`);
      c = decodeTensor(t);
      constants.set(name, c);
    }
    return c;
  };
  for (const name of model.initializers.keys()) {
    const init = model.initializers.get(name);
    if (init && init.dataType !== DataType.FLOAT && init.dataType !== DataType.INT64 && init.dataType !== DataType.INT32) {
      throw new BackwardUnsupportedError('only float32 files are differentiated by ONNX Runtime');
    }
  }

  const t = new GraphTail(PREFIX);
  const grads = new Map<string, string[]>();
  const addGrad = (tensor: string, g: string) => {
    if (!onPath.has(tensor)) return;
    const list = grads.get(tensor) ?? [];
    list.push(g);
    grads.set(tensor, list);
  };
  const gradOf = (tensor: string): string | undefined => {
    const list = grads.get(tensor);
    if (!list || list.length === 0) return undefined;
    const total = list.length === 1 ? (list[0] as string) : t.node('Sum', list);
    grads.set(tensor, [total]);
    return total;
  };
  const reduceSum = (x: string, axes: readonly number[], keepdims: 0 | 1) => t.node('ReduceSum', [x, t.ints(axes)], { keepdims });
  const reshape = (x: string, dims: readonly number[]) => t.node('Reshape', [x, t.ints(dims)]);
  /** The gradient of a broadcast input: summed over the axes it was stretched along. */
  const unbroadcast = (g: string, out: readonly number[], input: string) => {
    const inShape = shapeOf(input);
    if (same(out, inShape)) return g;
    const lead = out.length - inShape.length;
    const axes: number[] = [];
    out.forEach((d, i) => {
      if (i < lead || (inShape[i - lead] === 1 && d !== 1)) axes.push(i);
    });
    return reshape(reduceSum(g, axes, 1), inShape);
  };
  const swapLast = (rank: number) => [...Array(rank - 2).keys(), rank - 1, rank - 2];

  // Seed: ∂(u·i/|i|)/∂i = u/|i| − (u·i) i/|i|³.
  const emb = output;
  const seed = `${PREFIX}/seed`;
  const ss = reduceSum(t.node('Mul', [emb, emb]), [-1], 1);
  const norm = t.node('Sqrt', [ss]);
  const iu = reduceSum(t.node('Mul', [emb, seed]), [-1], 1);
  const score = t.node('Div', [iu, norm], {}, `${PREFIX}/score`);
  grads.set(emb, [t.node('Sub', [t.node('Div', [seed, norm]), t.node('Div', [t.node('Mul', [iu, emb]), t.node('Mul', [ss, norm])])])]);

  for (let k = path.nodes.length - 1; k >= 0; k--) {
    const node = path.nodes[k] as ModelNode;
    const y = node.outputs[0] as string;
    const g = gradOf(y);
    if (!g) continue;
    const [a = '', b = ''] = node.inputs;
    const out = shapeOf(y);
    const attrInt = (key: string, fallback: number) => node.attrs.get(key)?.i ?? fallback;
    switch (node.opType) {
      case 'Identity':
        addGrad(a, g);
        break;
      case 'Reshape':
      case 'Flatten':
      case 'Squeeze':
      case 'Unsqueeze':
        addGrad(a, reshape(g, shapeOf(a)));
        break;
      case 'Add':
        if (onPath.has(a)) addGrad(a, unbroadcast(g, out, a));
        if (onPath.has(b)) addGrad(b, unbroadcast(g, out, b));
        break;
      case 'Sub':
        if (onPath.has(a)) addGrad(a, unbroadcast(g, out, a));
        if (onPath.has(b)) addGrad(b, unbroadcast(t.node('Neg', [g]), out, b));
        break;
      case 'Neg':
        addGrad(a, t.node('Neg', [g]));
        break;
      case 'Mul':
        if (onPath.has(a)) addGrad(a, unbroadcast(t.node('Mul', [g, b]), out, a));
        if (onPath.has(b)) addGrad(b, unbroadcast(t.node('Mul', [g, a]), out, b));
        break;
      case 'Div':
        if (onPath.has(a)) addGrad(a, unbroadcast(t.node('Div', [g, b]), out, a));
        if (onPath.has(b)) addGrad(b, unbroadcast(t.node('Neg', [t.node('Div', [t.node('Mul', [g, y]), b])]), out, b));
        break;
      case 'Pow': {
        const e = constant(b);
        if (e.data.length !== 1) throw new BackwardUnsupportedError('Pow with a tensor exponent');
        const p = Number(e.data[0]);
        const base = p === 2 ? a : t.node('Pow', [a, t.scalar(p - 1)]);
        addGrad(a, t.node('Mul', [g, t.node('Mul', [base, t.scalar(p)])]));
        break;
      }
      case 'Sqrt':
        addGrad(a, t.node('Div', [t.node('Mul', [g, t.scalar(0.5)]), y]));
        break;
      case 'Sigmoid':
        addGrad(a, t.node('Mul', [g, t.node('Mul', [y, t.node('Sub', [t.scalar(1), y])])]));
        break;
      case 'Softmax': {
        const axis = attrInt('axis', -1);
        if (normAxis(axis, out.length) !== out.length - 1) throw new BackwardUnsupportedError('Softmax over another axis than the last');
        const dot = reduceSum(t.node('Mul', [g, y]), [-1], 1);
        addGrad(a, t.node('Mul', [y, t.node('Sub', [g, dot])]));
        break;
      }
      case 'ReduceMean':
      case 'ReduceSum': {
        const inShape = shapeOf(a);
        const axesAttr = node.attrs.get('axes')?.ints;
        const axesList: readonly number[] = axesAttr ?? (b ? Array.from(constant(b).data, Number) : [...inShape.keys()]);
        const axes = axesList.map((x) => normAxis(x, inShape.length));
        const keep = attrInt('keepdims', 1);
        const gk = keep ? g : t.node('Unsqueeze', [g, t.ints(axes)]);
        const n = node.opType === 'ReduceMean' ? axes.reduce((p, ax) => p * (inShape[ax] as number), 1) : 1;
        const scaled = n === 1 ? gk : t.node('Mul', [gk, t.scalar(1 / n)]);
        addGrad(a, t.node('Expand', [scaled, t.ints(inShape)]));
        break;
      }
      case 'Transpose': {
        const rank = out.length;
        const perm = node.attrs.get('perm')?.ints ?? [...Array(rank).keys()].reverse();
        const inverse = new Array<number>(rank);
        perm.forEach((p, i) => (inverse[p] = i));
        addGrad(a, t.node('Transpose', [g], { perm: inverse }));
        break;
      }
      case 'MatMul': {
        // A batched product's gradient has the batch dims of the output and the operand's matrix dims.
        const product = (operand: string) => [...out.slice(0, -2), ...shapeOf(operand).slice(-2)];
        if (onPath.has(a)) {
          const w = model.initializers.get(b);
          if (w && w.dims.length === 2) {
            // x·W with a constant W: ∂x = g·Wᵀ as a Gemm on 2-D rows (no transposed copy of W).
            const g2 = reshape(g, [-1, out[out.length - 1] as number]);
            addGrad(a, reshape(t.node('Gemm', [g2, b], { transB: 1 }), shapeOf(a)));
          } else {
            const bt = t.node('Transpose', [b], { perm: swapLast(shapeOf(b).length) });
            addGrad(a, unbroadcast(t.node('MatMul', [g, bt]), product(a), a));
          }
        }
        if (onPath.has(b)) {
          const at = t.node('Transpose', [a], { perm: swapLast(shapeOf(a).length) });
          addGrad(b, unbroadcast(t.node('MatMul', [at, g]), product(b), b));
        }
        break;
      }
      case 'Gemm': {
        if (attrInt('transA', 0) !== 0 || onPath.has(b)) throw new BackwardUnsupportedError('Gemm with a transposed or computed left operand');
        const alpha = node.attrs.get('alpha')?.f ?? 1;
        addGrad(a, t.node('Gemm', [g, b], { transB: 1 - attrInt('transB', 0), alpha: { float: alpha } }));
        break;
      }
      case 'Gather': {
        const idx = constant(b);
        if (idx.dims.length !== 0) throw new BackwardUnsupportedError('Gather with an index tensor');
        const inShape = shapeOf(a);
        const axis = normAxis(attrInt('axis', 0), inShape.length);
        const size = inShape[axis] as number;
        const k = ((Number(idx.data[0]) % size) + size) % size;
        const pads = new Array<number>(2 * inShape.length).fill(0);
        pads[axis] = k;
        pads[inShape.length + axis] = size - k - 1;
        addGrad(a, t.node('Pad', [t.node('Unsqueeze', [g, t.ints([axis])]), t.ints(pads)]));
        break;
      }
      case 'Slice': {
        const inShape = shapeOf(a);
        const starts = constant(b).data.map(Number);
        const ends = constant(node.inputs[2] as string).data.map(Number);
        const axes = node.inputs[3] ? constant(node.inputs[3]).data.map(Number) : starts.map((_, i) => i);
        const steps = node.inputs[4] ? constant(node.inputs[4]).data.map(Number) : starts.map(() => 1);
        if (steps.some((s) => s !== 1)) throw new BackwardUnsupportedError('Slice with a step');
        const pads = new Array<number>(2 * inShape.length).fill(0);
        axes.forEach((ax0, i) => {
          const ax = normAxis(ax0, inShape.length);
          const dim = inShape[ax] as number;
          const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
          const s = clamp(starts[i] as number);
          const e = clamp(ends[i] as number);
          pads[ax] = s;
          pads[inShape.length + ax] = dim - e;
        });
        addGrad(a, t.node('Pad', [g, t.ints(pads)]));
        break;
      }
      case 'Concat': {
        const axis = normAxis(attrInt('axis', 0), out.length);
        let offset = 0;
        for (const input of node.inputs) {
          const size = shapeOf(input)[axis] as number;
          if (onPath.has(input)) addGrad(input, t.node('Slice', [g, t.ints([offset]), t.ints([offset + size]), t.ints([axis])]));
          offset += size;
        }
        break;
      }
      default:
        throw new BackwardUnsupportedError(`no backward rule for ${node.opType}`);
    }
  }

  const gradients = attention.map((a, l) => {
    const g = gradOf(a);
    if (!g) throw new BackwardUnsupportedError(`layer ${l} has no gradient`);
    return t.node('Identity', [g], {}, `${PREFIX}/dA_${l}`);
  });
  t.input(seed, shapeOf(emb));
  for (const o of [score, ...attention, ...gradients]) t.output(o);
  const patched = t.append(bytes);
  return { bytes: patched, seed, score, attention, gradients };
}
