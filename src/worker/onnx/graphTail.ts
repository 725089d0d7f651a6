/**
 * Nodes, constants, graph inputs and graph outputs appended to an ONNX model without decoding it.
 *
 * A `ModelProto.graph` field that appears twice is merged by protobuf: repeated fields (nodes,
 * initializers, inputs, outputs) are concatenated. So writing one more `graph` field holding only
 * the new entries, after the file's last byte, patches the model; the weights are never copied
 * into JS values or re-encoded. Every patch of the app is one of these tails: attention outputs
 * (./attention.ts), in-graph head reductions (./headReduce.ts), the backward pass
 * (../grad/ortBackward.ts).
 */
import { DataType } from './graph';
import { Writer } from './protobuf';

/** An attribute: an integer, a list of integers, or `{ float }`. */
export type AttributeValue = number | readonly number[] | { readonly float: number };

/** `AttributeProto.AttributeType`. */
const ATTR = { FLOAT: 1, INT: 2, INTS: 7 } as const;

/** `ModelProto.graph`, and the `GraphProto` fields written here. */
const MODEL_GRAPH = 7;
const GRAPH = { node: 1, initializer: 5, input: 11, output: 12 } as const;

export class GraphTail {
  private readonly entries: ((g: Writer) => void)[] = [];
  private readonly inits: ((g: Writer) => void)[] = [];
  private readonly inputs: ((g: Writer) => void)[] = [];
  private readonly outputs: string[] = [];
  private count = 0;

  /** @param prefix of generated names, so that they cannot clash with the model's own. */
  constructor(private readonly prefix: string) {}

  /** A new tensor name, `prefix/hint_k`. */
  fresh(hint: string): string {
    return `${this.prefix}/${hint}_${this.count++}`;
  }

  /** A node with one output (named after it, as is the node); returns the output's name. */
  node(op: string, inputs: readonly string[], attrs: Readonly<Record<string, AttributeValue>> = {}, output = this.fresh(op)): string {
    this.entries.push((g) =>
      g.message(GRAPH.node, (n) => {
        for (const i of inputs) n.string(1, i);
        n.string(2, output).string(3, output).string(4, op);
        for (const [key, value] of Object.entries(attrs)) {
          n.message(5, (a) => {
            a.string(1, key);
            if (typeof value === 'number') a.int64(3, value).int64(20, ATTR.INT);
            else if ('float' in value) a.float32(2, value.float).int64(20, ATTR.FLOAT);
            else {
              for (const v of value) a.int64(8, v);
              a.int64(20, ATTR.INTS);
            }
          });
        }
      }),
    );
    return output;
  }

  /** An int64 vector constant; returns its name. */
  ints(values: readonly (number | bigint)[], name = this.fresh('i64')): string {
    this.inits.push((g) =>
      g.message(GRAPH.initializer, (t) => {
        t.int64(1, values.length).int64(2, DataType.INT64);
        const packed = new Writer();
        for (const v of values) packed.rawInt64(v);
        t.bytes(7, packed.finish()).string(8, name);
      }),
    );
    return name;
  }

  /** A float32 scalar constant; returns its name. */
  scalar(value: number, name = this.fresh('f32')): string {
    this.inits.push((g) =>
      g.message(GRAPH.initializer, (t) => {
        t.int64(2, DataType.FLOAT);
        t.bytes(9, new Uint8Array(new Float32Array([value]).buffer)).string(8, name);
      }),
    );
    return name;
  }

  /** A float32 graph input of a static shape. */
  input(name: string, dims: readonly number[]): void {
    this.inputs.push((g) =>
      g.message(GRAPH.input, (v) =>
        v.string(1, name).message(2, (type) =>
          type.message(1, (tensor) =>
            tensor.int64(1, DataType.FLOAT).message(2, (shape) => {
              for (const d of dims) shape.message(1, (dim) => dim.int64(1, d));
            }),
          ),
        ),
      ),
    );
  }

  /**
   * A graph output (type and shape left to ORT's inference). The tensor must be produced by a node
   * (else ORT refuses the model: "Graph output (…) does not exist in the graph") and should not
   * already be an output (ORT would list it twice).
   */
  output(name: string): void {
    if (name === '') throw new RangeError('GraphTail.output: empty tensor name');
    this.outputs.push(name);
  }

  /** `bytes` with the tail appended: one allocation of the total length. */
  append(bytes: Uint8Array): Uint8Array {
    const tail = new Writer()
      .message(MODEL_GRAPH, (g) => {
        for (const n of this.entries) n(g);
        for (const i of this.inits) i(g);
        for (const i of this.inputs) i(g);
        for (const o of this.outputs) g.message(GRAPH.output, (v) => v.string(1, o));
      })
      .finish();
    const out = new Uint8Array(bytes.length + tail.length);
    out.set(bytes, 0);
    out.set(tail, bytes.length);
    return out;
  }
}
