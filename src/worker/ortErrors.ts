/**
 * ONNX Runtime's refusals to run a model file, turned into messages a person can act on: which
 * file, which operator, and which weights to pick instead. Pure (unit-tested in ortErrors.test.ts
 * against the messages ONNX Runtime Web 1.30 gives).
 */

/** An operator ONNX Runtime could not place, read from its message: `ConvInteger`, opset 10. */
export interface MissingOperator {
  op: string;
  /** The operator's domain when ORT named one (`com.microsoft`); '' for the default domain. */
  domain: string;
  /** Opset version, where ORT gave one. */
  version: number | null;
}

/**
 * The operator an ORT error is about, for the shapes its messages take (ONNX Runtime Web 1.30):
 * - no kernel for a node: `Could not find an implementation for ConvInteger(10) node with name '…'`;
 * - an operator it does not know: `No Op registered for X with domain_version of 17`, or
 *   `com.microsoft:MatMulBnb4(-1) is not a registered function/op`;
 * - a type the operator does not take: `Type 'tensor(bool)' of input parameter (x) of operator (ReduceMax) in node (…) is invalid`;
 * - a kernel that refuses its attributes: `… Only 2b, 4b and 8b quantization is supported for MatMulNBits op …`.
 */
export function missingOperator(message: string): MissingOperator | null {
  const kernel = /Could not find an implementation for ([A-Za-z0-9_]+)\((\d+)\) node/.exec(message);
  if (kernel?.[1]) return { op: kernel[1], domain: '', version: Number(kernel[2]) };
  const unknown = /(?:([A-Za-z0-9_.]+):)?([A-Za-z0-9_]+)\((-?\d+)\) is not a registered function\/op/.exec(message);
  if (unknown?.[2]) {
    const v = Number(unknown[3]);
    return { op: unknown[2], domain: unknown[1] ?? '', version: v >= 0 ? v : null };
  }
  const unregistered = /No Op registered for ([A-Za-z0-9_]+) with domain_version of (\d+)/.exec(message);
  if (unregistered?.[1]) return { op: unregistered[1], domain: '', version: Number(unregistered[2]) };
  const typed = /of operator \(([A-Za-z0-9_]+)\) in node/.exec(message) ?? /supported for ([A-Za-z0-9_]+) op\b/.exec(message);
  if (typed?.[1]) return { op: typed[1], domain: '', version: null };
  return null;
}

/** What to pick instead, per operator a weights variant brings in. */
const SUGGESTION: Readonly<Record<string, string>> = {
  // ONNX Runtime's ConvInteger kernel takes uint8 weights only; int8 files quantize the patch Conv with int8.
  ConvInteger: 'pick the q8 or uint8 weights instead (8-bit too, the same size), or fp16',
  MatMulBnb4: 'pick the q4 weights instead (4-bit too, the same size), or q8',
  MatMulNBits: 'pick the q8 weights instead, or fp16',
};

/**
 * True when an error means the tab ran out of memory: ORT's C++ `std::bad_alloc`, its failed
 * allocations, V8's `RangeError: Array buffer allocation failed`, a WASM heap that could not grow.
 */
export function isOutOfMemory(message: string): boolean {
  return /bad_alloc|out of memory|\bOOM\b|array buffer allocation failed|failed to allocate|could not allocate|memory access out of bounds|Cannot enlarge memory/i.test(message);
}

/**
 * The message for a session ONNX Runtime would not create from `file` (e.g.
 * `onnx/vision_model_int8.onnx`): out of memory, an operator it cannot run, else ORT's own text.
 */
export function sessionErrorMessage(message: string, file: string): string {
  if (isOutOfMemory(message)) {
    return `There was not enough memory to open ${file} (ONNX Runtime: ${message}): this device or tab cannot hold this model. Pick smaller weights (q8) or a smaller model, or close other tabs.`;
  }
  const missing = missingOperator(message);
  if (!missing) return `ONNX Runtime could not open ${file}: ${message}`;
  const name = missing.domain && missing.domain !== 'ai.onnx' ? `${missing.domain}::${missing.op}` : missing.op;
  const version = missing.version !== null ? ` (opset ${missing.version})` : '';
  const instead = SUGGESTION[missing.op] ?? 'pick another weights variant (q8, fp16 and fp32 run everywhere)';
  return `${file} needs the operator ${name}${version} in a form ONNX Runtime Web cannot run: ${instead}.`;
}
