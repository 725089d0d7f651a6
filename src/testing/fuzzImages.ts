/**
 * Seeded mutants of small image files, for feeding damaged and lying files through the app.
 * Pure byte work on `Uint8Array`s: runs in Node (unit tests, Playwright specs) and in a browser.
 *
 * A mutant is a seed file with one mutation (sometimes two): bit flips, truncation, a duplicated,
 * deleted or zeroed run of bytes, or a forged image size in the format's header — PNG IHDR (its
 * CRC recomputed, so the decoder reads the lie instead of rejecting the chunk), JPEG SOF, GIF
 * logical screen, BMP info header (negative = top-down, and huge) and WebP VP8 / VP8L / VP8X.
 * The same seed number always gives the same mutants, so a failure found once replays.
 */
import { seededRandom } from './scenes';

export type ImageFormat = 'png' | 'jpeg' | 'gif' | 'bmp' | 'webp';

export interface SeedImage {
  name: string;
  mimeType: string;
  bytes: Uint8Array;
}

export type MutationKind = 'bit-flips' | 'truncate' | 'duplicate-run' | 'delete-run' | 'zero-run' | 'forge-size';

export const MUTATION_KINDS: readonly MutationKind[] = ['bit-flips', 'truncate', 'duplicate-run', 'delete-run', 'zero-run', 'forge-size'];

export interface Mutant {
  /** File name: index, first mutation and the seed's extension, e.g. `fuzz-007-forge-size.png`. */
  name: string;
  mimeType: string;
  bytes: Uint8Array;
  /** Mutations applied, in order (a forged size may be followed by one more mutation). */
  kinds: MutationKind[];
  seedName: string;
  /** What was done, in words, e.g. `forge-size PNG IHDR 65535×1; bit-flips 3 bits`. */
  detail: string;
}

/** Width × height pairs a forged header tries besides random ones: the sizes decoders trip on. */
export const EXTREME_SIZES: readonly (readonly [number, number])[] = [
  [65535, 1], [1, 65535], [0, 32], [48, 0], [0, 0], [2 ** 31 - 1, 1], [1, 2 ** 31 - 1],
  [2 ** 31 - 1, 2 ** 31 - 1], [16384, 16384], [65535, 65535], [1, 1],
];

/** The format of a file, from its first bytes; null when it is none of the five. */
export function sniffFormat(bytes: Uint8Array): ImageFormat | null {
  const at = (i: number, s: string) => [...s].every((c, k) => bytes[i + k] === c.charCodeAt(0));
  if (bytes[0] === 0x89 && at(1, 'PNG\r\n\x1a\n')) return 'png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return 'jpeg';
  if (at(0, 'GIF8')) return 'gif';
  if (at(0, 'BM')) return 'bmp';
  if (at(0, 'RIFF') && at(8, 'WEBP')) return 'webp';
  return null;
}

let crcTable: Uint32Array | null = null;

/** CRC-32 (ISO-HDLC, as PNG and zlib use: reflected polynomial 0xEDB88320) of `bytes`. */
export function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const b of bytes) crc = (crcTable[(crc ^ b) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** A copy of `bytes` with the bits at `bits` (bit i = byte i >> 3, bit i & 7) inverted. */
export function flipBits(bytes: Uint8Array, bits: readonly number[]): Uint8Array {
  const out = bytes.slice();
  for (const bit of bits) {
    const i = bit >>> 3;
    if (i < out.length) out[i] = (out[i] ?? 0) ^ (1 << (bit & 7));
  }
  return out;
}

/** The first `length` bytes (a file cut short). */
export function truncate(bytes: Uint8Array, length: number): Uint8Array {
  return bytes.slice(0, Math.max(0, Math.min(bytes.length, length)));
}

/** `bytes` with the run [start, start + length) repeated once, right after itself. */
export function duplicateRun(bytes: Uint8Array, start: number, length: number): Uint8Array {
  const [s, e] = clampRun(bytes, start, length);
  const out = new Uint8Array(bytes.length + (e - s));
  out.set(bytes.subarray(0, e), 0);
  out.set(bytes.subarray(s), e);
  return out;
}

/** `bytes` without the run [start, start + length). */
export function deleteRun(bytes: Uint8Array, start: number, length: number): Uint8Array {
  const [s, e] = clampRun(bytes, start, length);
  const out = new Uint8Array(bytes.length - (e - s));
  out.set(bytes.subarray(0, s), 0);
  out.set(bytes.subarray(e), s);
  return out;
}

/** A copy of `bytes` with the run [start, start + length) set to 0. */
export function zeroRun(bytes: Uint8Array, start: number, length: number): Uint8Array {
  const [s, e] = clampRun(bytes, start, length);
  const out = bytes.slice();
  out.fill(0, s, e);
  return out;
}

function clampRun(bytes: Uint8Array, start: number, length: number): [number, number] {
  const s = Math.max(0, Math.min(bytes.length, start));
  return [s, Math.max(s, Math.min(bytes.length, s + length))];
}

/** Which size field a forge wrote, and the size it holds (the asked one, clamped to the field). */
export interface ForgedSize {
  bytes: Uint8Array;
  /** e.g. `PNG IHDR`, `JPEG SOF2`, `WebP VP8L`. */
  field: string;
  width: number;
  height: number;
}

/** The WebP chunks whose sizes a forge can rewrite. */
export type WebpSizeChunk = 'VP8 ' | 'VP8L' | 'VP8X';

/**
 * A copy of `bytes` whose header claims `width × height`, clamped to what the field can hold
 * (PNG: 0…2³¹−1; JPEG SOF and GIF: 0…65535; BMP: signed 32 bits, a negative height meaning
 * top-down rows; WebP VP8: 0…16383, VP8L: 1…16384, VP8X canvas: 1…2²⁴). For a PNG the IHDR CRC is
 * recomputed. For a WebP, `chunk` picks the size chunk (default: the first one present).
 * Null when the file is not one of the five formats or its size field cannot be found.
 */
export function forgeSize(bytes: Uint8Array, width: number, height: number, chunk?: WebpSizeChunk): ForgedSize | null {
  const out = bytes.slice();
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const fits = (end: number) => end <= out.length;
  const clamp = (v: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, Math.round(v)));
  switch (sniffFormat(bytes)) {
    case 'png': {
      // Signature (8), IHDR length (4) and type (4), then width and height (big-endian).
      if (!fits(33) || String.fromCharCode(...out.subarray(12, 16)) !== 'IHDR') return null;
      const w = clamp(width, 0, 2 ** 31 - 1);
      const h = clamp(height, 0, 2 ** 31 - 1);
      view.setUint32(16, w);
      view.setUint32(20, h);
      view.setUint32(29, crc32(out.subarray(12, 29))); // over type + 13 data bytes
      return { bytes: out, field: 'PNG IHDR', width: w, height: h };
    }
    case 'jpeg': {
      const sof = findJpegSof(out);
      if (sof === null) return null;
      const w = clamp(width, 0, 65535);
      const h = clamp(height, 0, 65535);
      view.setUint16(sof + 5, h); // FF Cn, length (2), precision (1), height, width
      view.setUint16(sof + 7, w);
      return { bytes: out, field: `JPEG SOF${(out[sof + 1] ?? 0) - 0xc0}`, width: w, height: h };
    }
    case 'gif': {
      if (!fits(10)) return null;
      const w = clamp(width, 0, 65535);
      const h = clamp(height, 0, 65535);
      view.setUint16(6, w, true);
      view.setUint16(8, h, true);
      return { bytes: out, field: 'GIF logical screen', width: w, height: h };
    }
    case 'bmp': {
      // File header (14), then the info header: size (4), width and height (int32 LE). The old
      // 12-byte core header has 16-bit sizes instead.
      if (!fits(26)) return null;
      if (view.getUint32(14, true) === 12) {
        const w = clamp(width, 0, 65535);
        const h = clamp(height, 0, 65535);
        view.setUint16(18, w, true);
        view.setUint16(20, h, true);
        return { bytes: out, field: 'BMP core header', width: w, height: h };
      }
      const w = clamp(width, -(2 ** 31), 2 ** 31 - 1);
      const h = clamp(height, -(2 ** 31), 2 ** 31 - 1);
      view.setInt32(18, w, true);
      view.setInt32(22, h, true);
      return { bytes: out, field: 'BMP info header', width: w, height: h };
    }
    case 'webp': {
      const chunks = webpChunks(out);
      const found = chunks.find((c) => (chunk ? c.fourcc === chunk : c.fourcc === 'VP8 ' || c.fourcc === 'VP8L' || c.fourcc === 'VP8X'));
      if (!found) return null;
      const d = found.data;
      if (found.fourcc === 'VP8 ') {
        // Frame tag (3), start code 9d 01 2a, then 14-bit width and height, each with 2 scale bits on top.
        if (!fits(d + 10) || out[d + 3] !== 0x9d || out[d + 4] !== 0x01 || out[d + 5] !== 0x2a) return null;
        const w = clamp(width, 0, 16383);
        const h = clamp(height, 0, 16383);
        view.setUint16(d + 6, (view.getUint16(d + 6, true) & 0xc000) | w, true);
        view.setUint16(d + 8, (view.getUint16(d + 8, true) & 0xc000) | h, true);
        return { bytes: out, field: 'WebP VP8', width: w, height: h };
      }
      if (found.fourcc === 'VP8L') {
        // Signature 0x2f, then 32 bits LE: width − 1 (14), height − 1 (14), alpha (1), version (3).
        if (!fits(d + 5) || out[d] !== 0x2f) return null;
        const w = clamp(width, 1, 16384);
        const h = clamp(height, 1, 16384);
        const bits = view.getUint32(d + 1, true);
        view.setUint32(d + 1, ((bits & 0xf0000000) | ((h - 1) << 14) | (w - 1)) >>> 0, true);
        return { bytes: out, field: 'WebP VP8L', width: w, height: h };
      }
      // VP8X: flags (1), reserved (3), canvas width − 1 and height − 1 (24 bits LE each).
      if (!fits(d + 10)) return null;
      const w = clamp(width, 1, 2 ** 24);
      const h = clamp(height, 1, 2 ** 24);
      setUint24(out, d + 4, w - 1);
      setUint24(out, d + 7, h - 1);
      return { bytes: out, field: 'WebP VP8X', width: w, height: h };
    }
    default:
      return null;
  }
}

function setUint24(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value & 0xff;
  bytes[at + 1] = (value >>> 8) & 0xff;
  bytes[at + 2] = (value >>> 16) & 0xff;
}

/**
 * Offset of the first start-of-frame marker (FF C0…CF but C4 DHT, C8 JPG and CC DAC), walking
 * the segments from SOI; null when the scan data (SOS) or a malformed segment comes first.
 */
export function findJpegSof(bytes: Uint8Array): number | null {
  let i = 2;
  while (i + 4 <= bytes.length) {
    if (bytes[i] !== 0xff) return null;
    const marker = bytes[i + 1] ?? 0;
    if (marker === 0xff) { i++; continue; } // fill byte
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) { i += 2; continue; } // no length
    if (marker === 0xda || marker === 0xd9) return null;
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return i + 9 <= bytes.length ? i : null;
    }
    i += 2 + (((bytes[i + 2] ?? 0) << 8) | (bytes[i + 3] ?? 0));
  }
  return null;
}

/** RIFF chunks of a WebP file after the 12-byte header: four-character code and data offset. */
export function webpChunks(bytes: Uint8Array): { fourcc: string; data: number; size: number }[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: { fourcc: string; data: number; size: number }[] = [];
  let i = 12;
  while (i + 8 <= bytes.length) {
    const size = view.getUint32(i + 4, true);
    out.push({ fourcc: String.fromCharCode(...bytes.subarray(i, i + 4)), data: i + 8, size });
    i += 8 + size + (size & 1); // chunks are padded to even sizes
  }
  return out;
}

const EXTENSIONS: Record<ImageFormat, string> = { png: 'png', jpeg: 'jpg', gif: 'gif', bmp: 'bmp', webp: 'webp' };

/** `count` mutants of `seeds`, the same for the same `seed` (a 32-bit integer). */
export function makeMutants(seeds: readonly SeedImage[], seed: number, count: number): Mutant[] {
  if (seeds.length === 0) throw new Error('makeMutants needs at least one seed file.');
  const random = seededRandom(seed);
  const out: Mutant[] = [];
  for (let i = 0; i < count; i++) {
    const source = seeds[Math.floor(random() * seeds.length)] ?? (seeds[0] as SeedImage);
    const kind = MUTATION_KINDS[Math.floor(random() * MUTATION_KINDS.length)] ?? 'bit-flips';
    let step = mutateOnce(source.bytes, kind, random);
    const kinds: MutationKind[] = [step.kind];
    const details = [step.detail];
    // A lie about the size and damage besides, a quarter of the time.
    if (step.kind === 'forge-size' && random() < 0.25) {
      const second = MUTATION_KINDS[Math.floor(random() * (MUTATION_KINDS.length - 1))] ?? 'bit-flips';
      step = mutateOnce(step.bytes, second, random);
      kinds.push(step.kind);
      details.push(step.detail);
    }
    const format = sniffFormat(source.bytes);
    const ext = format ? EXTENSIONS[format] : (source.name.split('.').pop() ?? 'bin');
    out.push({
      name: `fuzz-${String(i).padStart(3, '0')}-${kinds[0]}.${ext}`,
      mimeType: source.mimeType,
      bytes: step.bytes,
      kinds,
      seedName: source.name,
      detail: `${source.name}: ${details.join('; ')}`,
    });
  }
  return out;
}

/** One mutation of `kind` with parameters drawn from `random`. A size that cannot be forged becomes bit flips. */
function mutateOnce(bytes: Uint8Array, kind: MutationKind, random: () => number): { bytes: Uint8Array; kind: MutationKind; detail: string } {
  const n = bytes.length;
  const int = (below: number) => Math.floor(random() * below);
  // Offsets favour the header (where one byte changes the most), half the time.
  const offset = () => (random() < 0.5 ? int(Math.min(n, 128)) : int(n));
  // Run lengths spread over orders of magnitude: 1 byte to a quarter of the file.
  const runLength = () => Math.max(1, Math.round(Math.exp(random() * Math.log(Math.max(2, n / 4)))));
  switch (kind) {
    case 'bit-flips': {
      const count = 1 + int(16);
      const bits = new Set<number>();
      while (bits.size < Math.min(count, n * 8)) bits.add(offset() * 8 + int(8));
      return { bytes: flipBits(bytes, [...bits]), kind, detail: `bit-flips ${bits.size} bits` };
    }
    case 'truncate': {
      const length = int(n);
      return { bytes: truncate(bytes, length), kind, detail: `truncate to ${length} of ${n} bytes` };
    }
    case 'duplicate-run':
    case 'delete-run':
    case 'zero-run': {
      const start = offset();
      const length = runLength();
      const f = kind === 'duplicate-run' ? duplicateRun : kind === 'delete-run' ? deleteRun : zeroRun;
      return { bytes: f(bytes, start, length), kind, detail: `${kind} ${length} bytes at ${start}` };
    }
    case 'forge-size': {
      const [w, h] = pickSize(random);
      const chunks: (WebpSizeChunk | undefined)[] = sniffFormat(bytes) === 'webp'
        ? webpChunks(bytes).map((c) => c.fourcc).filter((c): c is WebpSizeChunk => c === 'VP8 ' || c === 'VP8L' || c === 'VP8X')
        : [undefined];
      const forged = forgeSize(bytes, w, h, chunks[int(chunks.length)]);
      if (!forged) return mutateOnce(bytes, 'bit-flips', random);
      return { bytes: forged.bytes, kind, detail: `forge-size ${forged.field} ${forged.width}×${forged.height}` };
    }
  }
}

/** An extreme size half the time, else a random one: small, around the seed's size, or anywhere in 16 bits (BMP: negative heights too). */
function pickSize(random: () => number): [number, number] {
  if (random() < 0.5) {
    const pair = EXTREME_SIZES[Math.floor(random() * EXTREME_SIZES.length)] ?? [1, 1];
    return [pair[0], pair[1]];
  }
  const r = random();
  if (r < 0.4) return [1 + Math.floor(random() * 96), 1 + Math.floor(random() * 96)];
  if (r < 0.8) return [Math.floor(random() * 65536), Math.floor(random() * 65536)];
  return [1 + Math.floor(random() * 96), -(1 + Math.floor(random() * 65536))];
}
