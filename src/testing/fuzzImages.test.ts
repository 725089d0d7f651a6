import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  EXTREME_SIZES, MUTATION_KINDS, crc32, deleteRun, duplicateRun, flipBits, forgeSize, makeMutants, sniffFormat, truncate,
  zeroRun, type SeedImage,
} from './fuzzImages';

const FIXTURES = new URL('../../e2e/fixtures/fuzz/', import.meta.url);
const read = (name: string) => new Uint8Array(readFileSync(new URL(name, FIXTURES)));
const SEEDS: SeedImage[] = [
  ['seed.png', 'image/png'], ['seed.jpg', 'image/jpeg'], ['seed-progressive.jpg', 'image/jpeg'], ['seed.gif', 'image/gif'],
  ['seed.bmp', 'image/bmp'], ['seed.webp', 'image/webp'], ['seed-lossless.webp', 'image/webp'], ['seed-alpha.webp', 'image/webp'],
].map(([name = '', mimeType = '']) => ({ name, mimeType, bytes: read(name) }));
const seed = (name: string) => SEEDS.find((s) => s.name === name)?.bytes ?? new Uint8Array();

// Independent readers of the size fields, at the offsets the format specs give.
const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
const u24 = (b: Uint8Array, i: number) => (b[i] ?? 0) | ((b[i + 1] ?? 0) << 8) | ((b[i + 2] ?? 0) << 16);
const popcount = (x: number) => { let c = 0; for (let v = x; v; v &= v - 1) c++; return c; };

describe('the seeded mutant generator', () => {
  it('gives the same bytes for the same seed, and other bytes for another', () => {
    const a = makeMutants(SEEDS, 1234, 60);
    const b = makeMutants(SEEDS, 1234, 60);
    expect(b.map((m) => m.detail)).toEqual(a.map((m) => m.detail));
    for (let i = 0; i < a.length; i++) expect(Buffer.compare(b[i]?.bytes ?? new Uint8Array(), a[i]?.bytes ?? new Uint8Array()), `mutant ${i}`).toBe(0);
    const c = makeMutants(SEEDS, 1235, 60);
    expect(c.map((m) => m.detail)).not.toEqual(a.map((m) => m.detail));
  });

  it('uses every kind and every seed over a few hundred mutants, never changing the seeds', () => {
    const copies = SEEDS.map((s) => s.bytes.slice());
    const mutants = makeMutants(SEEDS, 7, 300);
    for (const kind of MUTATION_KINDS) expect(mutants.some((m) => m.kinds[0] === kind), kind).toBe(true);
    for (const s of SEEDS) expect(mutants.some((m) => m.seedName === s.name), s.name).toBe(true);
    expect(mutants.some((m) => m.kinds.length === 2)).toBe(true); // a forged size with damage besides
    SEEDS.forEach((s, i) => expect(Buffer.from(s.bytes)).toEqual(Buffer.from(copies[i] ?? [])));
    for (const m of mutants) expect(m.name).toMatch(/^fuzz-\d{3}-[a-z-]+\.(png|jpg|gif|bmp|webp)$/);
  });

  it('reads the five formats from their first bytes', () => {
    expect(SEEDS.map((s) => sniffFormat(s.bytes))).toEqual(['png', 'jpeg', 'jpeg', 'gif', 'bmp', 'webp', 'webp', 'webp']);
    expect(sniffFormat(new TextEncoder().encode('not an image'))).toBeNull();
  });
});

describe('byte mutations', () => {
  const bytes = Uint8Array.from({ length: 64 }, (_, i) => i + 1);

  it('bit flips invert exactly the bits asked for', () => {
    const bits = [0, 9, 63, 64 * 8 - 1];
    const out = flipBits(bytes, bits);
    let changed = 0;
    for (let i = 0; i < bytes.length; i++) changed += popcount((out[i] ?? 0) ^ (bytes[i] ?? 0));
    expect(changed).toBe(bits.length);
    expect(out[1]).toBe((bytes[1] ?? 0) ^ 0b10);
    expect(out[63]).toBe((bytes[63] ?? 0) ^ 0x80);
  });

  it('truncation keeps a prefix', () => {
    expect([...truncate(bytes, 10)]).toEqual([...bytes.subarray(0, 10)]);
    expect(truncate(bytes, 0).length).toBe(0);
    expect(truncate(bytes, 1000).length).toBe(64);
  });

  it('a duplicated run follows itself; a deleted run is gone; a zeroed run is 0', () => {
    const dup = duplicateRun(bytes, 10, 5);
    expect(dup.length).toBe(69);
    expect([...dup.subarray(10, 15)]).toEqual([...bytes.subarray(10, 15)]);
    expect([...dup.subarray(15, 20)]).toEqual([...bytes.subarray(10, 15)]);
    expect([...dup.subarray(20)]).toEqual([...bytes.subarray(15)]);

    const del = deleteRun(bytes, 10, 5);
    expect([...del]).toEqual([...bytes.subarray(0, 10), ...bytes.subarray(15)]);

    const zero = zeroRun(bytes, 60, 10); // runs past the end stop at it
    expect(zero.length).toBe(64);
    expect([...zero.subarray(60)]).toEqual([0, 0, 0, 0]);
    expect([...zero.subarray(0, 60)]).toEqual([...bytes.subarray(0, 60)]);
  });
});

describe('forged header sizes', () => {
  it('CRC-32 is the PNG / zlib one', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array())).toBe(0);
    const png = seed('seed.png'); // written by Pillow (zlib's CRC)
    expect(crc32(png.subarray(12, 29))).toBe(dv(png).getUint32(29));
  });

  it('PNG IHDR: the size written big-endian, with a valid CRC, for the extreme sizes too', () => {
    for (const [w, h] of EXTREME_SIZES) {
      const forged = forgeSize(seed('seed.png'), w, h);
      if (!forged) throw new Error('no IHDR');
      const b = forged.bytes;
      expect([dv(b).getUint32(16), dv(b).getUint32(20)]).toEqual([w, h]);
      expect(dv(b).getUint32(29)).toBe(crc32(b.subarray(12, 29)));
      expect(forged).toMatchObject({ field: 'PNG IHDR', width: w, height: h });
      expect([...b.subarray(33)]).toEqual([...seed('seed.png').subarray(33)]); // the rest untouched
    }
  });

  it('JPEG SOF0 and SOF2: height then width, 16 bits, clamped', () => {
    for (const name of ['seed.jpg', 'seed-progressive.jpg']) {
      const original = seed(name);
      const sofMarker = name === 'seed.jpg' ? 0xc0 : 0xc2;
      const at = original.findIndex((v, i) => v === 0xff && original[i + 1] === sofMarker);
      expect([dv(original).getUint16(at + 5), dv(original).getUint16(at + 7)]).toEqual([32, 48]);
      const forged = forgeSize(original, 65535, 1);
      expect(forged?.field).toBe(`JPEG SOF${sofMarker - 0xc0}`);
      expect([dv(forged?.bytes ?? original).getUint16(at + 5), dv(forged?.bytes ?? original).getUint16(at + 7)]).toEqual([1, 65535]);
      expect(forgeSize(original, 2 ** 31 - 1, 0)).toMatchObject({ width: 65535, height: 0 });
    }
  });

  it('GIF logical screen: little-endian 16 bits at 6 and 8', () => {
    const forged = forgeSize(seed('seed.gif'), 1, 65535);
    expect(forged?.field).toBe('GIF logical screen');
    const b = forged?.bytes ?? new Uint8Array(10);
    expect([dv(b).getUint16(6, true), dv(b).getUint16(8, true)]).toEqual([1, 65535]);
  });

  it('BMP: signed 32-bit width and height, negative (top-down) and huge', () => {
    for (const [w, h] of [[48, -32], [48, -(2 ** 31)], [2 ** 31 - 1, 2 ** 31 - 1], [0, 0]] as const) {
      const b = forgeSize(seed('seed.bmp'), w, h)?.bytes ?? new Uint8Array(26);
      expect([dv(b).getInt32(18, true), dv(b).getInt32(22, true)]).toEqual([w, h]);
    }
  });

  it('WebP VP8: 14 bits each, scale bits kept', () => {
    const original = seed('seed.webp');
    expect(String.fromCharCode(...original.subarray(12, 16))).toBe('VP8 ');
    const b = forgeSize(original, 65535, 5)?.bytes ?? original;
    expect([dv(b).getUint16(26, true) & 0x3fff, dv(b).getUint16(28, true) & 0x3fff]).toEqual([16383, 5]);
    expect(dv(b).getUint16(26, true) >> 14).toBe(dv(original).getUint16(26, true) >> 14);
  });

  it('WebP VP8L: width − 1 and height − 1 in 14 bits each, alpha and version bits kept', () => {
    const original = seed('seed-lossless.webp');
    expect(String.fromCharCode(...original.subarray(12, 16))).toBe('VP8L');
    const before = dv(original).getUint32(21, true);
    expect([(before & 0x3fff) + 1, ((before >>> 14) & 0x3fff) + 1]).toEqual([48, 32]);
    const forged = forgeSize(original, 1, 16384);
    const bits = dv(forged?.bytes ?? original).getUint32(21, true);
    expect([(bits & 0x3fff) + 1, ((bits >>> 14) & 0x3fff) + 1]).toEqual([1, 16384]);
    expect(bits >>> 28).toBe(before >>> 28);
    expect(forgeSize(original, 0, 0)).toMatchObject({ width: 1, height: 1 }); // 0 cannot be written
  });

  it('WebP VP8X: the canvas size, 24 bits each; or the VP8 frame inside it when asked', () => {
    const original = seed('seed-alpha.webp');
    expect(String.fromCharCode(...original.subarray(12, 16))).toBe('VP8X');
    const b = forgeSize(original, 2 ** 31 - 1, 3, 'VP8X')?.bytes ?? original;
    expect([u24(b, 24) + 1, u24(b, 27) + 1]).toEqual([2 ** 24, 3]);
    const inner = forgeSize(original, 7, 9, 'VP8 ');
    expect(inner?.field).toBe('WebP VP8');
    const ib = inner?.bytes ?? original;
    expect([u24(ib, 24), u24(ib, 27)]).toEqual([u24(original, 24), u24(original, 27)]); // the canvas untouched
    expect(forgeSize(original, 7, 9, 'VP8L')).toBeNull(); // a lossy file has no VP8L chunk
  });

  it('gives null for a file whose size field is gone', () => {
    expect(forgeSize(truncate(seed('seed.png'), 20), 1, 1)).toBeNull();
    expect(forgeSize(new TextEncoder().encode('hello'), 1, 1)).toBeNull();
  });
});
