import { describe, expect, test } from 'vitest';
import { ProtobufError, Reader, WireType, Writer, varintSize } from './protobuf';

function readAll(bytes: Uint8Array): { field: number; wire: number; value: unknown }[] {
  const r = new Reader(bytes);
  const out: { field: number; wire: number; value: unknown }[] = [];
  while (!r.done) {
    const { field, wire } = r.tag();
    if (wire === WireType.Varint) out.push({ field, wire, value: r.varint64() });
    else if (wire === WireType.Len) out.push({ field, wire, value: r.string() });
    else if (wire === WireType.Fixed32) out.push({ field, wire, value: r.float32() });
    else {
      r.skip(wire);
      out.push({ field, wire, value: undefined });
    }
  }
  return out;
}

describe('varints', () => {
  test.each([0, 1, 127, 128, 300, 2 ** 28 - 1, 2 ** 28, 2 ** 31, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER])(
    'uint %d round-trips with the predicted size',
    (v) => {
      const bytes = new Writer().rawVarint(v).finish();
      expect(bytes.length).toBe(varintSize(v));
      const r = new Reader(bytes);
      expect(r.varint()).toBe(v);
      expect(r.done).toBe(true);
    },
  );

  test('known encodings (protobuf docs: 150 = 96 01)', () => {
    expect([...new Writer().rawVarint(150).finish()]).toEqual([0x96, 0x01]);
    expect([...new Writer().uint(1, 150).finish()]).toEqual([0x08, 0x96, 0x01]);
  });

  test.each([-1, -2, -(2 ** 40), 2 ** 40, 0, Number.MIN_SAFE_INTEGER])('int64 %d round-trips', (v) => {
    const bytes = new Writer().int64(3, v).finish();
    const r = new Reader(bytes);
    expect(r.tag()).toEqual({ field: 3, wire: WireType.Varint });
    expect(r.int64()).toBe(v);
    if (v < 0) expect(bytes.length).toBe(11); // key + 10-byte two's complement
  });

  test('varint64 keeps full 64-bit values; varint() refuses beyond 2^53', () => {
    const bytes = new Writer().int64(1, -1).finish().subarray(1);
    expect(new Reader(bytes).varint64()).toBe(2n ** 64n - 1n);
    expect(() => new Reader(bytes).varint()).toThrow(ProtobufError);
  });

  test('overlong and truncated varints are errors, not loops', () => {
    expect(() => new Reader(new Uint8Array(11).fill(0x80)).varint()).toThrow(/longer than 10 bytes/);
    const cut = new Reader(new Uint8Array([0x96]));
    expect(() => cut.varint()).toThrow(/past the end/);
    try {
      new Reader(new Uint8Array([0xff, 0xff])).varint();
    } catch (e) {
      expect(e).toBeInstanceOf(ProtobufError);
      expect((e as ProtobufError).truncated).toBe(true);
    }
  });
});

describe('fields', () => {
  test('writer and reader agree on every wire type', () => {
    const w = new Writer().uint(1, 7).string(2, 'héllo').float32(3, 1.5).message(4, (m) => m.uint(1, 1));
    w.tag(5, WireType.Fixed64);
    for (let i = 0; i < 8; i++) w.rawVarint(0); // the 8 payload bytes of a fixed64
    const fields = readAll(w.finish());
    expect(fields).toEqual([
      { field: 1, wire: 0, value: 7n },
      { field: 2, wire: 2, value: 'héllo' },
      { field: 3, wire: 5, value: 1.5 },
      { field: 4, wire: 2, value: '\x08\x01' },
      { field: 5, wire: 1, value: undefined },
    ]);
  });

  test('length-delimited fields are views into the input, not copies', () => {
    const payload = new Uint8Array(1000).fill(7);
    const bytes = new Writer().bytes(9, payload).uint(1, 3).finish();
    const r = new Reader(bytes);
    r.tag();
    const view = r.bytesView();
    expect(view.buffer).toBe(bytes.buffer);
    expect(view.byteOffset).toBe(3); // key (1) + length varint (2)
    expect(view.length).toBe(1000);
  });

  test('skip() jumps over a length-delimited field by its prefix', () => {
    const bytes = new Writer().bytes(5, new Uint8Array(100_000)).uint(2, 42).finish();
    const r = new Reader(bytes);
    r.skip(r.tag().wire);
    expect(r.tag().field).toBe(2);
    expect(r.varint()).toBe(42);
  });

  test('embedded message readers stay inside their bounds', () => {
    const bytes = new Writer().message(1, (m) => m.uint(1, 5).uint(2, 6)).uint(3, 9).finish();
    const r = new Reader(bytes);
    r.tag();
    const inner = r.message();
    const seen: number[] = [];
    while (!inner.done) {
      inner.tag();
      seen.push(inner.varint());
    }
    expect(seen).toEqual([5, 6]);
    expect(r.tag().field).toBe(3);
  });

  test('packed and unpacked repeated scalars read the same', () => {
    const packed = new Writer().bytes(1, new Writer().rawVarint(1).rawVarint(300).rawVarint(2).finish()).finish();
    const unpacked = new Writer().uint(1, 1).uint(1, 300).uint(1, 2).finish();
    for (const bytes of [packed, unpacked]) {
      const r = new Reader(bytes);
      const values: number[] = [];
      while (!r.done) r.repeated(r.tag().wire, WireType.Varint, (x) => values.push(x.varint()));
      expect(values).toEqual([1, 300, 2]);
    }
  });

  test.each([
    ['wire type 3 (group)', [0x0b]],
    ['wire type 4 (end group, e.g. "<")', [0x3c]],
    ['wire type 6', [0x0e]],
    ['wire type 7', [0x0f]],
    ['field number 0', [0x00, 0x01]],
  ])('rejects %s', (_, bytes) => {
    const r = new Reader(new Uint8Array(bytes));
    expect(() => r.tag()).toThrow(ProtobufError);
  });

  test('a length prefix past the end is a truncation error', () => {
    const bytes = new Writer().bytes(1, new Uint8Array(50)).finish().subarray(0, 30);
    const r = new Reader(bytes);
    r.tag();
    expect(() => r.bytesView()).toThrow(/runs past the end/);
    const fixed = new Reader(new Uint8Array([0x0d, 1, 2]));
    expect(() => fixed.skip(fixed.tag().wire)).toThrow(/fixed32 runs past the end/);
  });

  test('a nested length may not exceed its parent message', () => {
    // Outer message of 3 bytes claims an inner field of 10 bytes; the outer buffer has 20.
    const bytes = new Uint8Array(20);
    bytes.set([0x0a, 0x03, 0x0a, 0x0a]);
    const r = new Reader(bytes);
    r.tag();
    const inner = r.message();
    inner.tag();
    expect(() => inner.bytesView()).toThrow(ProtobufError);
  });
});
