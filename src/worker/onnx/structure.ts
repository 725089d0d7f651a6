/**
 * Structural searches over a CLIP encoder graph ({@link ModelSummary}): which tensor is what,
 * found from how nodes connect, never from node names (exporters name nodes as they like).
 *
 * - {@link GraphIndex}: producer/consumer lookups, and which tensors carry activations.
 * - {@link attentionBranch}: from an attention Softmax down to P·V, the out-projection and the
 *   residual Add — whose other input is the residual stream entering the block.
 * - {@link findBlockInputs}: that residual stream for every block, the tensors a pass can start
 *   from instead of the graph input (../grad/gradients.ts starts the differentiated part there).
 *
 * Hugging Face / transformers.js CLIP exports (pre-LayerNorm blocks:
 * `x → LN1 → attention → + x → LN2 → MLP → +`) are what this expects.
 */
import { attentionSoftmaxOf, type AttentionGraph } from './attention';
import type { ModelSummary, OnnxNode } from './graph';

/** How many ops may sit between the attention Softmax and its MatMuls (casts, scale). */
export const MAX_HOPS = 6;
/** How many ops the out-projection path may have (reshapes, transposes, MatMul, bias, int8 chains). */
export const MAX_PROJECTION_HOPS = 24;

/** Scale ops: Mul/Div by a static operand. */
const SCALE_OPS = new Set(['Mul', 'Div']);
/** Value-preserving ops crossed between a Softmax and its MatMuls. */
export const PASS_OPS = new Set(['Cast', 'Identity', 'Reshape', 'Squeeze', 'Unsqueeze', 'Dropout']);
/** Ops of an out-projection path: head merge, the projection (float or int8 chain), bias, scale. */
const PROJECTION_OPS = new Set([
  'Reshape', 'Transpose', 'Flatten', 'Squeeze', 'Unsqueeze', 'Cast', 'Identity',
  'MatMul', 'Gemm', 'MatMulInteger', 'DynamicQuantizeLinear', 'DequantizeLinear', 'Mul', 'Div', 'Add',
]);
/**
 * Is `n` one of ONNX Runtime's block-quantized MatMuls (`com.microsoft::MatMulNBits` or
 * `MatMulBnb4`, in the `_q4`, `_q4f16` and `_bnb4` files)? The interpreter dequantises them
 * (../grad/blockQuantized.ts); the structure finders treat them as projections.
 */
export function isBlockQuantizedMatMul(n: { readonly opType: string; readonly domain: string }): boolean {
  return n.domain === 'com.microsoft' && (n.opType === 'MatMulNBits' || n.opType === 'MatMulBnb4');
}

/** Is `n` a step of an out-projection path: a default-domain op of the list, or a 4-bit MatMul? */
function onProjectionPath(n: OnnxNode): boolean {
  return (PROJECTION_OPS.has(n.opType) && n.domain === '') || isBlockQuantizedMatMul(n);
}

/** Consumers that only read a tensor's shape. */
const SHAPE_READERS = new Set(['Shape', 'Size']);

/**
 * Producer/consumer lookups, with two kinds of tensors that carry no activation values:
 * constants (initializers and whatever is computed from them alone: an Identity of a weight is a
 * weight) and static tensors (constants plus shape values: `Shape` outputs and what is computed
 * from them, e.g. a scale 1/√head_dim built from Q's shape).
 */
export class GraphIndex {
  readonly producer = new Map<string, OnnxNode>();
  readonly consumers = new Map<string, OnnxNode[]>();
  readonly constant = new Set<string>();
  readonly static = new Set<string>();

  constructor(readonly model: ModelSummary) {
    for (const init of model.initializers) {
      this.constant.add(init.name);
      this.static.add(init.name);
    }
    for (const node of model.nodes) {
      const ins = node.inputs.filter((i) => i !== '');
      const isConstant = ins.every((i) => this.constant.has(i));
      const isStatic = SHAPE_READERS.has(node.opType) || ins.every((i) => this.static.has(i));
      for (const out of node.outputs) {
        if (!out) continue;
        this.producer.set(out, node);
        if (isConstant) this.constant.add(out);
        if (isStatic) this.static.add(out);
      }
      for (const input of ins) {
        const list = this.consumers.get(input);
        if (list) list.push(node);
        else this.consumers.set(input, [node]);
      }
    }
  }

  /** Does the tensor carry activation values (depends on the input's values, not only its shape)? */
  computed(name: string | undefined): name is string {
    return name !== undefined && name !== '' && !this.static.has(name);
  }

  /** The only computed input of a Mul/Div whose other operand is static (a scale), else undefined. */
  scaled(node: OnnxNode): string | undefined {
    if (!SCALE_OPS.has(node.opType)) return undefined;
    const [a, b] = node.inputs;
    if (this.computed(a) && !this.computed(b)) return a;
    if (node.opType === 'Mul' && this.computed(b) && !this.computed(a)) return b;
    return undefined;
  }

  /** Consumers that use the value (not only its shape). */
  valueConsumers(name: string): OnnxNode[] {
    return (this.consumers.get(name) ?? []).filter((n) => !SHAPE_READERS.has(n.opType));
  }

  /** Tensors that depend on any of `from` (included), in graph order. */
  downstream(from: readonly string[]): Set<string> {
    const set = new Set(from);
    for (const node of this.model.nodes) {
      if (node.inputs.some((i) => set.has(i))) for (const o of node.outputs) if (o) set.add(o);
    }
    return set;
  }

  /**
   * Tensors that evaluating `targets` from `fed` also needs and that do not depend on `fed`
   * (shape values, the residual stream): they must be fed too, or the interpreter would evaluate
   * the whole graph again to get them.
   */
  sideInputs(fed: readonly string[], targets: readonly string[]): string[] {
    const given = new Set(fed);
    const down = this.downstream(fed);
    const side = new Set<string>();
    const seen = new Set<string>();
    const stack = [...targets];
    while (stack.length > 0) {
      const t = stack.pop() as string;
      if (seen.has(t) || given.has(t) || this.constant.has(t)) continue;
      seen.add(t);
      if (!down.has(t)) {
        side.add(t);
        continue;
      }
      const p = this.producer.get(t);
      if (p) for (const i of p.inputs) if (i) stack.push(i);
    }
    return [...side].sort();
  }
}

/** One attention block's path from its Softmax to the residual Add. */
export interface AttentionBranch {
  /** Second input of the MatMul consuming the Softmax: V `(batch·heads, seq, head_dim)`. */
  readonly value: string;
  /** That MatMul's output, attention·V `(batch·heads, seq, head_dim)`. */
  readonly attentionOutput: string;
  /** The attention branch's input to the residual Add (after the out-projection), `(batch, seq, D)`. */
  readonly outProjection: string;
  /** Output of the residual Add, `(batch, seq, D)`. */
  readonly residual: string;
  /**
   * The residual Add's other input: the residual stream entering the block (what its first
   * LayerNorm reads), `(batch, seq, D)`.
   */
  readonly blockInput: string;
}

/**
 * Walks down from an attention Softmax: through casts/reshapes to the MatMul with V, then
 * through the head merge and the out-projection (float MatMul/Gemm or an int8 chain, bias) to
 * the residual Add of two computed tensors.
 *
 * @param what  how messages name the Softmax, e.g. `'the last attention Softmax'`.
 * @param fail  throws with a message saying what is missing.
 */
export function attentionBranch(g: GraphIndex, softmax: OnnxNode, what: string, fail: (message: string) => never): AttentionBranch {
  // Down from the Softmax to attention·V.
  let probs = softmax.outputs[0] ?? fail(`${what} has no output.`);
  let pvNode: OnnxNode | undefined;
  for (let hop = 0; hop <= MAX_HOPS && !pvNode; hop++) {
    const next = g.valueConsumers(probs);
    pvNode = next.find((n) => n.opType === 'MatMul' && n.domain === '' && n.inputs[0] === probs && g.computed(n.inputs[1]));
    if (pvNode) break;
    const pass = next.find((n) => PASS_OPS.has(n.opType));
    if (!pass || !pass.outputs[0]) break;
    probs = pass.outputs[0];
  }
  if (!pvNode) return fail(`${what} does not feed a MatMul with V (probabilities·V).`);
  const value = pvNode.inputs[1] as string;
  const attentionOutput = pvNode.outputs[0] ?? fail('the attention·V MatMul has no output.');

  // Forward through head merge and out-projection to the residual Add.
  let t = attentionOutput;
  let projected = false;
  for (let hop = 0; hop < MAX_PROJECTION_HOPS; hop++) {
    const next = g.valueConsumers(t).filter(onProjectionPath);
    if (next.length !== 1) {
      fail(
        next.length === 0
          ? `the attention output does not reach a residual Add through the out-projection (stopped after ${hop} op(s)).`
          : `the attention output branches (${next.map((n) => n.opType).join(', ')}) before the residual Add.`,
      );
    }
    const n = next[0] as OnnxNode;
    if (n.opType === 'Add' && n.inputs.every((i) => g.computed(i))) {
      if (!projected) fail('the attention output reaches an Add of two computed tensors before any out-projection MatMul.');
      const residual = n.outputs[0] ?? fail('the residual Add has no output.');
      const blockInput = n.inputs[0] === t ? n.inputs[1] : n.inputs[0];
      if (!blockInput || blockInput === t) return fail('the residual Add adds the attention output to itself.');
      return { value, attentionOutput, outProjection: t, residual, blockInput };
    }
    if (n.opType === 'MatMul' || n.opType === 'Gemm' || n.opType === 'MatMulInteger' || isBlockQuantizedMatMul(n)) projected = true;
    t = n.outputs[0] ?? fail(`a ${n.opType} node on the out-projection path has no output.`);
  }
  return fail(`no residual Add was found after ${what}'s out-projection.`);
}

/** Where each block's residual stream is, for starting a pass part-way (see {@link findBlockInputs}). */
export interface BlockInputs {
  /**
   * Per block (= attention layer, in order): the residual stream entering it, `(batch, seq, D)`,
   * or undefined when a pass fed there would still need earlier blocks (then start earlier).
   */
  readonly inputs: readonly (string | undefined)[];
  /**
   * Per block: whether a pass from {@link inputs} to the output (and the attention Softmax
   * outputs from that block on) also reads the graph input — e.g. the text encoder pools at the
   * end-of-text token found by `ArgMax(input_ids)` — so it must be fed too. False for blocks
   * without a usable input.
   */
  readonly readsInput: readonly boolean[];
}

/**
 * Finds the residual stream entering every attention block (the input of its first LayerNorm;
 * for block 0, what the embeddings and any pre-LayerNorm give), by walking each attention
 * Softmax down to its residual Add ({@link attentionBranch}).
 *
 * A block's input is usable only when everything from it to `output` can be computed from it,
 * the graph input and constants alone: for block l > 0, no other tensor of blocks before l may be
 * read, not even for its shape (checked; such a block gets `undefined`). Each input must also lie
 * upstream of its block's Softmax and downstream of the previous one.
 *
 * @param output the embedding output, e.g. `image_embeds`; default: the first graph output.
 * @returns undefined when the graph does not have this structure (fused attention, a branch
 *   that does not end in a residual Add…): then only a pass from the graph input works.
 */
export function findBlockInputs(model: ModelSummary, attention?: AttentionGraph, output?: string): BlockInputs | undefined {
  let found: AttentionGraph;
  try {
    found = attention ?? attentionSoftmaxOf(model);
  } catch {
    return undefined;
  }
  const out = output ?? model.outputs[0];
  if (!out) return undefined;
  const weights = new Set(model.initializers.map((i) => i.name));
  const graphInputs = model.inputs.filter((i) => !weights.has(i));
  const g = new GraphIndex(model);
  const fail = (message: string): never => {
    throw new Error(message);
  };
  const inputs: (string | undefined)[] = [];
  const readsInput: boolean[] = [];
  try {
    const blockInputs = found.layers.map((layer) => {
      const softmax = model.nodes[layer.nodeIndex] ?? fail('missing Softmax');
      return attentionBranch(g, softmax, `attention Softmax ${layer.layer}`, fail).blockInput;
    });
    const first = blockInputs[0];
    if (first === undefined) return undefined;
    // What block 0 and later compute. A side input among these belongs to an earlier block — even
    // a shape value: evaluating `Shape(t)` needs t, i.e. the blocks before.
    const encoder = g.downstream([first]);
    const fromGraphInput = g.downstream(graphInputs);
    const memo = new Map<string, Set<string>>();
    const below = (t: string): Set<string> => {
      let d = memo.get(t);
      if (!d) memo.set(t, (d = g.downstream([t])));
      return d;
    };
    blockInputs.forEach((input, l) => {
      const softmax = found.softmaxOutputs[l] as string;
      const previous = found.softmaxOutputs[l - 1];
      const ordered = below(input).has(softmax) && !below(softmax).has(input) &&
        (previous === undefined || below(previous).has(input));
      const side = g.sideInputs([input], [out, ...found.softmaxOutputs.slice(l)]);
      const selfContained = side.every((s) => !encoder.has(s));
      const usable = ordered && selfContained;
      inputs.push(usable ? input : undefined);
      readsInput.push(usable && side.some((s) => fromGraphInput.has(s)));
    });
  } catch {
    return undefined;
  }
  return { inputs, readsInput };
}

/**
 * Whether a pass started at a block input computed elsewhere (ONNX Runtime) gives the numbers of
 * a pass from the graph input, up to float rounding (~1e-6 relative). Not when activations are
 * quantized dynamically (`DynamicQuantizeLinear`, the `_quantized` exports): its scale follows
 * the tensor's min and max, so a one-ulp difference in the block input moves rounding steps in
 * every later quantized product — on the bundled q8 files, relevance maps then differ by up to
 * ~1 % for 3 of 4 images. (Float16 graphs are caught at run time: ORT returns float16 there.)
 */
export function startsExactly(model: ModelSummary): boolean {
  return !model.nodes.some((n) => n.opType === 'DynamicQuantizeLinear' || n.opType === 'QuantizeLinear');
}
