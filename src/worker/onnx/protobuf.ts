/**
 * Minimal protobuf wire-format reader and writer over `Uint8Array`.
 *
 * Why our own: we only need to walk an ONNX `ModelProto` (hundreds of MB, almost all of it weights)
 * far enough to see the node list, and to append a few small fields. A general protobuf library
 * decodes (copies) every field, and some (protobufjs < 8.2) replace repeated embedded messages
 * instead of merging them, which breaks the patch in ./attention.ts. This reader never copies:
 * length-delimited fields come back as `subarray` views, and unwanted fields are skipped by their
 * length prefix, so a 350 MB initializer costs one bounds check.
 *
 * Every read is bounds-checked and every wire type validated, so truncated or non-protobuf input
 * raises a {@link ProtobufError} instead of looping or returning nonsense.
 *
 * Wire format reference: https://protobuf.dev/programming-guides/encoding/
 */

/** Protobuf wire types. Groups (3, 4) are deprecated and never used by ONNX, so we reject them. */
export const WireType = {
  Varint: 0,
  Fixed64: 1,
  Len: 2,
  StartGroup: 3,
  EndGroup: 4,
  Fixed32: 5,
} as const;

/** One of the values of {@link WireType}. */
export type WireType = (typeof WireType)[keyof typeof WireType];

/** Input that is not well-formed protobuf: bad wire type, overlong varint, or a field that runs past the end. */
export class ProtobufError extends Error {
  /** Byte offset (from the start of the reader's buffer) where the problem was found. */
  readonly offset: number;
  /** True when the input simply ended too early (a truncated download), as opposed to garbage. */
  readonly truncated: boolean;
  /** What is wrong, without the offset. */
  readonly detail: string;

  constructor(detail: string, offset: number, truncated = false) {
    super(`${detail} (at byte ${offset})`);
    this.name = 'ProtobufError';
    this.offset = offset;
    this.truncated = truncated;
    this.detail = detail;
  }
}

/** A field key: field number and wire type. */
export interface Tag {
  readonly field: number;
  readonly wire: WireType;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/**
 * Sequential reader of the fields of one protobuf message, `bytes[start, end)`.
 *
 * Typical loop: `while (!r.done) { const { field, wire } = r.tag(); if (…) r.string(); else r.skip(wire); }`.
 * Offsets reported in errors are absolute offsets in `bytes`, which is what a person debugging a
 * broken file wants.
 */
export class Reader {
  /** The whole buffer (not only this message): sub-readers share it, nothing is copied. */
  readonly bytes: Uint8Array;
  /** Current absolute position in {@link bytes}. */
  pos: number;
  /** Absolute end (exclusive) of this message. */
  readonly end: number;

  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    if (start < 0 || end > bytes.length || start > end) {
      throw new RangeError(`Reader range [${start}, ${end}) outside buffer of ${bytes.length} bytes`);
    }
    this.bytes = bytes;
    this.pos = start;
    this.end = end;
  }

  /** True once every field of this message has been read. */
  get done(): boolean {
    return this.pos >= this.end;
  }

  /** Reads a field key. Rejects field number 0 and wire types 3, 4, 6, 7. */
  tag(): Tag {
    const at = this.pos;
    const key = this.varint();
    const wire = key % 8;
    const field = Math.floor(key / 8);
    if (field === 0 || field > 0x1fffffff) throw new ProtobufError(`invalid field number ${field}`, at);
    if (wire !== WireType.Varint && wire !== WireType.Fixed64 && wire !== WireType.Len && wire !== WireType.Fixed32) {
      throw new ProtobufError(`unsupported wire type ${wire} for field ${field}`, at);
    }
    return { field, wire };
  }

  /**
   * Reads an unsigned varint as a JS number. Throws if the value exceeds 2^53 − 1 (never the case
   * for lengths, field keys, enum values or tensor dims); use {@link int64} or {@link varint64} for
   * arbitrary 64-bit values.
   */
  varint(): number {
    const at = this.pos;
    const { bytes, end } = this;
    let pos = this.pos;
    // Fast path: values < 2^28 (all keys and almost all lengths) fit four bytes of 32-bit math.
    let result = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      if (pos >= end) throw new ProtobufError('varint runs past the end', at, true);
      const b = bytes[pos++] as number;
      result |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        return result >>> 0;
      }
    }
    // Slow path: continue with float math, exact up to 2^53.
    let value = result >>> 0;
    let mult = 2 ** 28;
    for (let i = 4; i < 10; i++) {
      if (pos >= end) throw new ProtobufError('varint runs past the end', at, true);
      const b = bytes[pos++] as number;
      value += (b & 0x7f) * mult;
      if (b < 0x80) {
        if (value > Number.MAX_SAFE_INTEGER) throw new ProtobufError('varint exceeds 2^53', at);
        this.pos = pos;
        return value;
      }
      mult *= 128;
    }
    throw new ProtobufError('varint longer than 10 bytes', at);
  }

  /** Reads a varint as the raw unsigned 64-bit value (e.g. for `uint64` fields). */
  varint64(): bigint {
    const at = this.pos;
    let value = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ProtobufError('varint runs past the end', at, true);
      const b = this.bytes[this.pos++] as number;
      value |= BigInt(b & 0x7f) << BigInt(7 * i);
      if (b < 0x80) return BigInt.asUintN(64, value);
    }
    throw new ProtobufError('varint longer than 10 bytes', at);
  }

  /**
   * Reads an `int64` field (two's complement varint; negative values take 10 bytes) as a number.
   * Throws if it is outside ±(2^53 − 1). ONNX uses int64 for dims, attribute ints and versions.
   */
  int64(): number {
    const at = this.pos;
    const value = BigInt.asIntN(64, this.varint64());
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new ProtobufError(`int64 ${value} does not fit a JS number`, at);
    }
    return Number(value);
  }

  /** Reads the length prefix of a length-delimited field and returns `[start, end)` of its payload. */
  lengthDelimited(): { start: number; end: number } {
    const at = this.pos;
    const len = this.varint();
    const start = this.pos;
    if (len > this.end - start) {
      throw new ProtobufError(`field of ${len} bytes runs past the end of its message (${this.end - start} left)`, at, true);
    }
    this.pos = start + len;
    return { start, end: start + len };
  }

  /** Reads a length-delimited field as a view into the buffer (no copy). */
  bytesView(): Uint8Array {
    const { start, end } = this.lengthDelimited();
    return this.bytes.subarray(start, end);
  }

  /** Reads a length-delimited field as UTF-8 text. */
  string(): string {
    const { start, end } = this.lengthDelimited();
    return utf8.decode(this.bytes.subarray(start, end));
  }

  /** Reads an embedded message and returns a reader over it; this reader moves past it. */
  message(): Reader {
    const { start, end } = this.lengthDelimited();
    return new Reader(this.bytes, start, end);
  }

  /** Reads a little-endian 32-bit float (`fixed32` wire type). */
  float32(): number {
    const at = this.pos;
    if (this.end - at < 4) throw new ProtobufError('fixed32 runs past the end', at, true);
    this.pos += 4;
    return new DataView(this.bytes.buffer, this.bytes.byteOffset + at, 4).getFloat32(0, true);
  }

  /** Skips one field value of the given wire type; length-delimited fields are skipped by their prefix. */
  skip(wire: WireType): void {
    const at = this.pos;
    switch (wire) {
      case WireType.Varint:
        // Read the varint bytes without interpreting them (they may exceed 2^53).
        for (let i = 0; ; i++) {
          if (i >= 10) throw new ProtobufError('varint longer than 10 bytes', at);
          if (this.pos >= this.end) throw new ProtobufError('varint runs past the end', at, true);
          if ((this.bytes[this.pos++] as number) < 0x80) return;
        }
      case WireType.Fixed64:
        return this.advance(8, at);
      case WireType.Len:
        this.lengthDelimited();
        return;
      case WireType.Fixed32:
        return this.advance(4, at);
      default:
        throw new ProtobufError(`unsupported wire type ${wire}`, at);
    }
  }

  /**
   * Reads a repeated scalar field that may be packed (one length-delimited run) or not (one value
   * per occurrence), calling `read` for each element. Protobuf parsers must accept both encodings.
   */
  repeated(wire: WireType, expected: WireType, read: (r: Reader) => void): void {
    if (wire === WireType.Len && expected !== WireType.Len) {
      const inner = this.message();
      while (!inner.done) read(inner);
    } else if (wire === expected) {
      read(this);
    } else {
      throw new ProtobufError(`wire type ${wire} where ${expected} was expected`, this.pos);
    }
  }

  private advance(n: number, at: number): void {
    if (this.end - this.pos < n) throw new ProtobufError(`fixed${n * 8} runs past the end`, at, true);
    this.pos += n;
  }
}

/**
 * Appends protobuf fields to a growable buffer. Used to build the small extra `GraphProto` that
 * exposes internal tensors (./attention.ts) and synthetic models in tests; not meant for weights.
 */
export class Writer {
  private buf = new Uint8Array(64);
  private len = 0;

  /** Number of bytes written so far. */
  get length(): number {
    return this.len;
  }

  /** Writes a field key. */
  tag(field: number, wire: WireType): this {
    return this.rawVarint(field * 8 + wire);
  }

  /** Writes a varint field (`uint32`/`uint64`/`bool`/`enum`, and `int32`/`int64` ≥ 0). */
  uint(field: number, value: number): this {
    return this.tag(field, WireType.Varint).rawVarint(value);
  }

  /** Writes an `int64`/`int32` field; negative values use the 10-byte two's complement encoding. */
  int64(field: number, value: number | bigint): this {
    return this.tag(field, WireType.Varint).rawInt64(value);
  }

  /** Writes a bare `int64` varint (no key), e.g. inside a packed repeated field. */
  rawInt64(value: number | bigint): this {
    let v = BigInt.asUintN(64, BigInt(value));
    do {
      const b = Number(v & 0x7fn);
      v >>= 7n;
      this.byte(v > 0n ? b | 0x80 : b);
    } while (v > 0n);
    return this;
  }

  /** Writes a length-delimited field holding `data`. */
  bytes(field: number, data: Uint8Array): this {
    this.tag(field, WireType.Len).rawVarint(data.length);
    this.ensure(data.length);
    this.buf.set(data, this.len);
    this.len += data.length;
    return this;
  }

  /** Writes a UTF-8 string field. */
  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  /** Writes an embedded message whose fields `build` writes. */
  message(field: number, build: (w: Writer) => void): this {
    const inner = new Writer();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  /** Writes a little-endian 32-bit float field (`fixed32` wire type). */
  float32(field: number, value: number): this {
    this.tag(field, WireType.Fixed32);
    this.ensure(4);
    new DataView(this.buf.buffer, this.len, 4).setFloat32(0, value, true);
    this.len += 4;
    return this;
  }

  /** The bytes written so far (a copy sized exactly). */
  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }

  /** Writes a bare unsigned varint (no key). Values up to 2^53 − 1. */
  rawVarint(value: number): this {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`varint ${value} is not a safe unsigned integer`);
    let v = value;
    while (v >= 0x80) {
      this.byte((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    return this.byte(v);
  }

  private byte(b: number): this {
    this.ensure(1);
    this.buf[this.len++] = b;
    return this;
  }

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
}

/** Size in bytes of `value` encoded as a varint; lets callers size an allocation exactly. */
export function varintSize(value: number): number {
  let n = 1;
  let v = value;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    n++;
  }
  return n;
}
