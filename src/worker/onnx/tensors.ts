/**
 * Turning ONNX Runtime output tensors into the Float32Arrays and layouts the rest of the app uses.
 *
 * Functions take a structural {@link TensorLike} instead of `ort.Tensor`, so they are testable
 * without a session and the worker's session code stays the only place that knows ORT.
 */
import { UnsupportedModelError } from './errors';

/** The part of an `ort.Tensor` read here (`ort.Tensor` satisfies it). */
export interface TensorLike {
  /** ORT element type name, e.g. `'float32'`, `'float16'`. */
  readonly type: string;
  /** Element data: a typed array whose kind depends on `type`. */
  readonly data: unknown;
  readonly dims: readonly number[];
}

/**
 * The values of a float tensor as a Float32Array.
 *
 * - `float32`: returns the tensor's own array (no copy; it shares memory with the tensor).
 * - `float16`: ORT hands out either raw half-float bits in a `Uint16Array` or, where the runtime has
 *   it, a `Float16Array` of numbers; both are converted into a new Float32Array.
 *
 * @throws TypeError for any other element type.
 */
export function toFloat32(tensor: TensorLike): Float32Array {
  const { type, data } = tensor;
  if (type === 'float32' && data instanceof Float32Array) return data;
  if (type === 'float16') {
    if (data instanceof Uint16Array) return halfBitsToFloat32(data);
    // Float16Array (not in our TS lib yet): a 2-byte typed array whose elements are already numbers.
    if (ArrayBuffer.isView(data) && isFloat16Array(data)) return Float32Array.from(data);
  }
  throw new TypeError(`expected a float32 or float16 tensor, got ${type} (${describe(data)})`);
}

/**
 * Converts IEEE 754 half-precision bit patterns to float32 values, exactly (every half is a float).
 * Handles ±0, subnormals (exponent 0: mantissa × 2⁻²⁴), ±Infinity and NaN.
 *
 * @param bits one 16-bit pattern per element.
 * @param out optional destination of the same length (allocated when omitted).
 */
export function halfBitsToFloat32(bits: Uint16Array, out = new Float32Array(bits.length)): Float32Array {
  if (out.length !== bits.length) throw new RangeError(`output length ${out.length} != input length ${bits.length}`);
  // Normal numbers and Inf/NaN are a pure bit rearrangement; write them through an integer view.
  const u32 = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i] as number;
    const sign = (h & 0x8000) << 16;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) {
      // Zero or subnormal: value = mant × 2^-24, exactly representable in float32.
      out[i] = (sign ? -mant : mant) * 5.960464477539063e-8; // −0 stays −0
    } else if (exp === 0x1f) {
      u32[i] = sign | 0x7f800000 | (mant << 13); // Inf (mant 0) or NaN
    } else {
      u32[i] = sign | ((exp + 112) << 23) | (mant << 13); // rebias exponent 15 → 127
    }
  }
  return out;
}

/** One half-precision bit pattern as a number; see {@link halfBitsToFloat32}. */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Sizes of one layer's attention probabilities. */
export interface AttentionShape {
  readonly batch: number;
  readonly heads: number;
  /** Sequence length: patches + 1 (CLS) for vision, tokens for text. */
  readonly seq: number;
}

/** What an attention tensor should look like, from the request and config.json. */
export interface ExpectedAttention {
  /** Images or prompts in the run. */
  readonly batch: number;
  /** `num_attention_heads` of the encoder. */
  readonly heads: number;
  /** Layer index (0-based), for the error message. */
  readonly layer: number;
  /** Tensor name, for the error message. */
  readonly name?: string;
}

/**
 * Checks the runtime shape of a layer's Softmax output and returns its sizes. Accepted:
 * rank 3 `(batch·heads, seq, seq)` (bmm-based exports, e.g. PyTorch's CLIP) or rank 4
 * `(batch, heads, seq, seq)`. Both have the same row-major layout.
 *
 * @throws UnsupportedModelError `attention-shape`, naming the layer, when the shape does not fit.
 */
export function checkAttentionShape(dims: readonly number[], expected: ExpectedAttention): AttentionShape {
  const { batch, heads, layer } = expected;
  const fail = (why: string): never => {
    const name = expected.name ? ` ("${expected.name}")` : '';
    throw new UnsupportedModelError(
      'attention-shape',
      `Layer ${layer} attention${name} has shape [${dims.join(', ')}]: ${why}. Expected (batch·heads, seq, seq) or ` +
        `(batch, heads, seq, seq) with batch ${batch} and ${heads} heads. The Softmax found in this model ` +
        'is probably not the attention probabilities, or config.json does not match the model.',
      { layer },
    );
  };
  if (dims.length !== 3 && dims.length !== 4) fail(`rank ${dims.length}, expected 3 or 4`);
  if (dims.some((d) => !Number.isInteger(d) || d <= 0)) fail('a dimension is not a positive integer');
  const seq = dims[dims.length - 1] as number;
  if (dims[dims.length - 2] !== seq) fail('the last two dimensions (queries, keys) differ');
  if (dims.length === 4) {
    if (dims[0] !== batch) fail(`dimension 0 is not the batch size ${batch}`);
    if (dims[1] !== heads) fail(`dimension 1 is not the head count ${heads}`);
  } else {
    const d0 = dims[0] as number;
    if (d0 % batch !== 0) fail(`dimension 0 (${d0}) is not divisible by the batch size ${batch}`);
    if (d0 / batch !== heads) fail(`dimension 0 (${d0}) / batch ${batch} = ${d0 / batch} heads, not ${heads}`);
  }
  return { batch, heads, seq };
}

/** Attention probabilities of one layer in the app's layout. */
export interface LayerAttention {
  /** Row-major (batch, heads, seq, seq): `data[((b·heads + h)·seq + q)·seq + k]` = P(query q attends to key k). */
  readonly data: Float32Array;
  /** `[batch, heads, seq, seq]`. */
  readonly shape: readonly [number, number, number, number];
}

/**
 * Validates one layer's Softmax output and returns it as (batch, heads, seq, seq) float32.
 * (batch·heads, seq, seq) and (batch, heads, seq, seq) share their row-major layout, so the
 * reshape is free; only float16 needs a conversion (and for float32 the data is the tensor's own).
 *
 * @throws UnsupportedModelError `attention-shape` naming the layer when the shape does not fit.
 */
export function toLayerAttention(tensor: TensorLike, expected: ExpectedAttention): LayerAttention {
  const { batch, heads, seq } = checkAttentionShape(tensor.dims, expected);
  const data = toFloat32(tensor);
  if (data.length !== batch * heads * seq * seq) {
    throw new UnsupportedModelError(
      'attention-shape',
      `Layer ${expected.layer} attention holds ${data.length} values, not ${batch}×${heads}×${seq}×${seq}.`,
      { layer: expected.layer },
    );
  }
  return { data, shape: [batch, heads, seq, seq] };
}

/** All layers' attention probabilities for one image or prompt. */
export interface StackedAttention {
  readonly layers: number;
  readonly heads: number;
  readonly seq: number;
  /** Row-major (layers, heads, seq, seq): `data[((l·heads + h)·seq + q)·seq + k]`. */
  readonly data: Float32Array;
}

/**
 * Validates every layer's Softmax output of one run and regroups them per batch item: the worker
 * posts one {@link StackedAttention} per prompt (images: see {@link layerAttentions}); its
 * `data.buffer` is transferable and owned by that item alone.
 *
 * @param tensors one per layer, in layer order, each (batch·heads, seq, seq) or (batch, heads, seq, seq).
 * @param batch images or prompts in the run.
 * @param heads `num_attention_heads` from config.json.
 * @param names tensor names, in the same order, for error messages.
 * @returns `batch` stacks of shape (layers, heads, seq, seq).
 * @throws UnsupportedModelError `attention-shape` naming the layer whose shape does not fit, or when
 *   layers disagree on the sequence length.
 */
export function attentionToFloat32(
  tensors: readonly TensorLike[],
  batch: number,
  heads: number,
  names: readonly string[] = [],
): StackedAttention[] {
  const { layers, seq } = checkedLayers(tensors, batch, heads, names);
  const perLayer = heads * seq * seq; // values of one batch item in one layer
  return Array.from({ length: batch }, (_, b) => {
    const data = new Float32Array(layers.length * perLayer);
    layers.forEach((l, i) => data.set(l.data.subarray(b * perLayer, (b + 1) * perLayer), i * perLayer));
    return { layers: layers.length, heads, seq, data };
  });
}

/** Validates every layer of one run; all layers must share one sequence length. */
function checkedLayers(
  tensors: readonly TensorLike[],
  batch: number,
  heads: number,
  names: readonly string[],
): { layers: LayerAttention[]; seq: number } {
  const layers = tensors.map((t, layer) => {
    const name = names[layer];
    return toLayerAttention(t, name === undefined ? { batch, heads, layer } : { batch, heads, layer, name });
  });
  const seq = layers[0]?.shape[2] ?? 0;
  const bad = layers.findIndex((l) => l.shape[2] !== seq);
  if (bad >= 0) {
    throw new UnsupportedModelError(
      'attention-shape',
      `Layer ${bad} attention has sequence length ${layers[bad]?.shape[2]}, layer 0 has ${seq}: these are not the attentions of one encoder.`,
      { layer: bad },
    );
  }
  return { layers, seq };
}

/**
 * Validates every layer's Softmax output of a run on ONE input and returns them as
 * `(heads, seq, seq)` float32 arrays, without regrouping them into one stack: for reductions
 * (src/explain/reduce.ts) that read each layer once. float32 data is the tensors' own (valid
 * until they are disposed); float16 is converted.
 *
 * @throws UnsupportedModelError `attention-shape`, as {@link attentionToFloat32}.
 */
export function layerAttentions(
  tensors: readonly TensorLike[],
  heads: number,
  names: readonly string[] = [],
): { heads: number; seq: number; layers: Float32Array[] } {
  const { layers, seq } = checkedLayers(tensors, 1, heads, names);
  return { heads, seq, layers: layers.map((l) => l.data) };
}

function isFloat16Array(view: ArrayBufferView): view is ArrayBufferView & ArrayLike<number> {
  return (view as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT === 2 && view.constructor.name === 'Float16Array';
}

function describe(data: unknown): string {
  return data === null || data === undefined ? String(data) : ((data as object).constructor?.name ?? typeof data);
}
