/**
 * Finds the self-attention Softmax of each encoder layer in a stock ONNX export and patches the
 * model bytes so ONNX Runtime returns their outputs (the attention probabilities).
 *
 * The stock exports (transformers.js layout) only output embeddings. ORT returns nothing but graph
 * outputs, and a protobuf parser merges repeated occurrences of an embedded message field, so
 * appending one more `ModelProto.graph` field that holds only extra `output` entries adds outputs
 * without touching — or even decoding — the weights. See docs/DESIGN.md, "Getting attentions out
 * of a stock export".
 */
import { UnsupportedModelError } from './errors';
import { summarizeModel, type ModelSummary, type OnnxNode } from './graph';
import { GraphTail } from './graphTail';

/** One layer's attention Softmax. */
export interface AttentionSoftmax {
  /** Encoder layer, 0-based: the position among attention Softmax nodes in graph (= topological) order. */
  readonly layer: number;
  /**
   * Name of the Softmax output tensor. As a graph output it holds the attention probabilities
   * (rows sum to 1), shape (batch·heads, seq, seq) for bmm-style exports or (batch, heads, seq, seq);
   * see ./tensors.ts to validate and view it as (batch, heads, seq, seq).
   */
  readonly output: string;
  /** Node name, for messages only (names are whatever the exporter chose). */
  readonly nodeName: string;
  /** Index of the Softmax in the node list. */
  readonly nodeIndex: number;
}

/** What {@link findAttentionSoftmax} finds: the per-layer Softmax and the graph's interface. */
export interface AttentionGraph {
  /** One entry per encoder layer, in graph order. */
  readonly layers: readonly AttentionSoftmax[];
  /** `layers.map((l) => l.output)`: the tensor names to pass to {@link patchOutputs}. */
  readonly softmaxOutputs: string[];
  /** Graph input names, initializers excluded, e.g. `['pixel_values']` or `['input_ids']`. */
  readonly inputs: string[];
  /** Graph output names before patching, e.g. `['image_embeds']`. */
  readonly outputs: string[];
}

/** Options for {@link findAttentionSoftmax}. */
export interface FindAttentionOptions {
  /**
   * Number of encoder layers from config.json (`vision_config.num_hidden_layers` or
   * `text_config.num_hidden_layers`). When given, a different count is an error: it means the
   * file and the config do not belong together, or the search matched the wrong nodes.
   */
  readonly expectedLayers?: number;
}

/**
 * Walks a model and returns its self-attention Softmax nodes in graph order, one per layer, with
 * the graph's input and output names.
 *
 * Node names are not used. A Softmax counts as self-attention when it sits between two matrix
 * products of computed tensors: scores = Q·Kᵀ before it (through scale, mask, casts) and
 * probabilities·V after it. Other Softmax nodes (e.g. a classifier head) are ignored.
 *
 * @param bytes the whole `.onnx` file (one encoder, as in the transformers.js layout).
 * @throws UnsupportedModelError `fused-attention` when attention is a single fused operator,
 *   `no-attention` when nothing matches, `layer-count` when the count differs from
 *   `options.expectedLayers`, `not-onnx`/`truncated` for bytes that are not a complete ONNX model.
 */
export function findAttentionSoftmax(bytes: Uint8Array, options: FindAttentionOptions = {}): AttentionGraph {
  return attentionSoftmaxOf(summarizeModel(bytes), options);
}

/** {@link findAttentionSoftmax} on an already walked model (walk once, use the summary twice). */
export function attentionSoftmaxOf(model: ModelSummary, options: FindAttentionOptions = {}): AttentionGraph {
  const g = new GraphIndex(model);
  const softmax = model.nodes.filter((n) => n.opType === 'Softmax' && n.domain === '');
  const attention = softmax.filter((n) => g.isSelfAttentionSoftmax(n));
  const fused = model.nodes.filter((n) => FUSED_ATTENTION.test(n.opType));

  if (fused.length > 0) {
    const partly = attention.length > 0 ? ` (${attention.length} layer(s) still use a plain Softmax)` : '';
    throw new UnsupportedModelError(
      'fused-attention',
      `This export fuses attention into a single operator (${describeOps(fused)})${partly}, so the ` +
        'per-layer attention probabilities never exist as a tensor and cannot be exposed. Use an export ' +
        'with unfused attention (MatMul → Softmax → MatMul), e.g. the Xenova/transformers.js CLIP exports ' +
        '(such as Xenova/clip-vit-base-patch32), or export again without ONNX Runtime transformer optimization.',
    );
  }
  if (attention.length === 0) {
    const contrib = model.nodes.filter((n) => n.domain !== '');
    const seen =
      softmax.length > 0
        ? `It has ${softmax.length} Softmax node(s), but none sits between two matrix products like self-attention.`
        : contrib.length > 0
          ? `It has no Softmax; it uses optimized operators (${describeOps(contrib)}), which may hide attention.`
          : 'It has no Softmax node.';
    throw new UnsupportedModelError(
      'no-attention',
      `No self-attention was found in this model. ${seen} Use an export with unfused attention, ` +
        'e.g. the Xenova/transformers.js CLIP exports.',
    );
  }
  const expected = options.expectedLayers;
  if (expected !== undefined && attention.length !== expected) {
    throw new UnsupportedModelError(
      'layer-count',
      `Found ${attention.length} self-attention Softmax node(s), but config.json says the encoder has ` +
        `${expected} layers (num_hidden_layers). The .onnx file and config.json probably belong to ` +
        'different models: check the model folder.',
    );
  }
  const layers = attention.map((n, layer) => ({
    layer,
    output: n.outputs[0] ?? '', // never '': isSelfAttentionSoftmax requires an output
    nodeName: n.name,
    nodeIndex: n.index,
  }));
  const weights = new Set(model.initializers.map((i) => i.name));
  return {
    layers,
    softmaxOutputs: layers.map((l) => l.output),
    inputs: model.inputs.filter((name) => !weights.has(name)),
    outputs: [...model.outputs],
  };
}

/**
 * Walks the model once, finds the attention Softmax of every layer and returns the bytes patched so
 * that ONNX Runtime returns them after the original outputs. This is what the worker loads.
 *
 * @returns `bytes`: the patched model; `attention`: what was found, whose `softmaxOutputs` are the
 *   extra output names (in layer order) and `outputs` the original ones.
 * @throws UnsupportedModelError as {@link findAttentionSoftmax}.
 */
export function exposeAttention(
  bytes: Uint8Array,
  options: FindAttentionOptions = {},
): { bytes: Uint8Array; attention: AttentionGraph } {
  const attention = findAttentionSoftmax(bytes, options);
  // ORT would list a name twice if it were added again (never the case in a stock export).
  const already = new Set(attention.outputs);
  return { bytes: patchOutputs(bytes, attention.softmaxOutputs.filter((n) => !already.has(n))), attention };
}

/**
 * Returns a copy of `bytes` with extra graph outputs: the original bytes followed by one more
 * `ModelProto.graph` field (field 7) whose only content is an `output` entry (ValueInfoProto with
 * just a name) per name. Protobuf merging appends these outputs after the existing ones; ONNX
 * Runtime infers their type and shape. Nothing in `bytes` is decoded.
 *
 * @param bytes the whole `.onnx` file; not modified.
 * @param names tensor names to expose (e.g. {@link AttentionGraph.softmaxOutputs}); must be produced by a
 *   node of the graph (else ORT refuses the model: "Graph output (…) does not exist in the graph") and
 *   should not already be outputs (ORT would then list them twice). Duplicates within `names` are dropped.
 * @returns a new buffer of `bytes.length` + a few bytes per name (one allocation of the total length).
 */
export function patchOutputs(bytes: Uint8Array, names: readonly string[]): Uint8Array {
  const tail = new GraphTail('clip_lens_outputs');
  for (const name of new Set(names)) tail.output(name);
  return tail.append(bytes);
}

// ---------------------------------------------------------------------------------------------

/**
 * Op types of fused attention: ORT contrib ops (com.microsoft Attention, MultiHeadAttention,
 * GroupQueryAttention, PackedAttention, QAttention, SparseAttention, DecoderMaskedMultiHeadAttention…)
 * and the standard ONNX `Attention` (opset 23).
 */
const FUSED_ATTENTION = /attention/i;

/** Matrix products, and which inputs are the two operands. */
const MATMUL_OPERANDS: Record<string, readonly number[]> = {
  MatMul: [0, 1],
  MatMulInteger: [0, 1],
  FusedMatMul: [0, 1],
  MatMulIntegerToFloat: [0, 1],
  QLinearMatMul: [0, 3],
  Einsum: [0, 1],
};

/** Ops allowed between Q·Kᵀ and the Softmax: scaling, masking, casts, reshapes, (de)quantization. */
const BEFORE_SOFTMAX = new Set([
  'Add', 'Sub', 'Mul', 'Div', 'Where', 'Max', 'Min', 'Clip', 'Cast', 'Reshape', 'Identity',
  'Squeeze', 'Unsqueeze', 'DequantizeLinear',
]);
/** Ops allowed between the Softmax and probabilities·V: casts, dropout, head masks, (de)quantization. */
const AFTER_SOFTMAX = new Set([
  'Cast', 'Dropout', 'Identity', 'Reshape', 'Squeeze', 'Unsqueeze', 'Mul', 'Where',
  'DynamicQuantizeLinear', 'QuantizeLinear', 'DequantizeLinear',
]);
/** How many ops may sit between a Softmax and its matrix products. Real exports need ≤ 3. */
const MAX_HOPS = 6;

/** Producer/consumer lookups over a {@link ModelSummary}. */
class GraphIndex {
  private readonly producer = new Map<string, OnnxNode>();
  private readonly consumers = new Map<string, OnnxNode[]>();
  private readonly constants = new Set<string>();

  constructor(model: ModelSummary) {
    for (const init of model.initializers) this.constants.add(init.name);
    for (const node of model.nodes) {
      for (const out of node.outputs) {
        this.producer.set(out, node);
        if (node.opType === 'Constant') this.constants.add(out);
      }
      for (const input of node.inputs) {
        const list = this.consumers.get(input);
        if (list) list.push(node);
        else this.consumers.set(input, [node]);
      }
    }
  }

  /** True for a Softmax fed by Q·Kᵀ and feeding probabilities·V (both products of computed tensors). */
  isSelfAttentionSoftmax(softmax: OnnxNode): boolean {
    const input = softmax.inputs[0];
    const output = softmax.outputs[0];
    if (!input || !output) return false;
    return this.reachesProduct(input, 'up') && this.reachesProduct(output, 'down');
  }

  /** Is a tensor computed from graph inputs (not a weight or constant)? */
  private computed(name: string | undefined): boolean {
    return name !== undefined && name !== '' && !this.constants.has(name);
  }

  /** A matrix product whose two operands are both computed, like Q·Kᵀ or P·V (not x·W). */
  private isActivationProduct(node: OnnxNode): boolean {
    const operands = MATMUL_OPERANDS[node.opType];
    return operands !== undefined && node.domain !== 'ai.onnx.ml' && operands.every((i) => this.computed(node.inputs[i]));
  }

  /** Breadth-first search from `start` to an activation product, through allowed ops only. */
  private reachesProduct(start: string, direction: 'up' | 'down'): boolean {
    const passThrough = direction === 'up' ? BEFORE_SOFTMAX : AFTER_SOFTMAX;
    let frontier = [start];
    const seen = new Set(frontier);
    for (let hop = 0; hop < MAX_HOPS && frontier.length > 0; hop++) {
      const next: string[] = [];
      for (const tensor of frontier) {
        const nodes = direction === 'up' ? [this.producer.get(tensor)] : (this.consumers.get(tensor) ?? []);
        for (const node of nodes) {
          if (!node) continue;
          if (this.isActivationProduct(node)) return true;
          if (!passThrough.has(node.opType)) continue;
          const onward = direction === 'up' ? node.inputs.filter((t) => this.computed(t)) : node.outputs;
          for (const t of onward) {
            if (!seen.has(t)) {
              seen.add(t);
              next.push(t);
            }
          }
        }
      }
      frontier = next;
    }
    return false;
  }
}

/** "MultiHeadAttention (com.microsoft) ×12, FastGelu (com.microsoft) ×12" */
function describeOps(nodes: readonly OnnxNode[]): string {
  const counts = new Map<string, number>();
  for (const n of nodes) {
    const key = n.domain ? `${n.opType} (${n.domain})` : n.opType;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([op, k]) => `${op} ×${k}`).join(', ');
}
