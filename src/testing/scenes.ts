/**
 * Synthetic scenes of coloured shapes, drawn like tools/models/scenes.py (same colours, shapes,
 * sizes and backgrounds, analytic anti-aliasing), from a seeded generator. Used to re-check the
 * bundled model's retrieval with fresh scenes and to run the pointing game in the browser.
 */

export const COLOURS = {
  red: [215, 35, 35],
  green: [35, 165, 55],
  blue: [35, 70, 215],
  yellow: [240, 215, 35],
  purple: [135, 45, 175],
  orange: [245, 135, 25],
} as const satisfies Record<string, readonly [number, number, number]>;

export type Colour = keyof typeof COLOURS;
export const COLOUR_NAMES = Object.keys(COLOURS) as Colour[];
export const SHAPES = ['circle', 'square', 'triangle', 'star'] as const;
export type Shape = (typeof SHAPES)[number];

/** The 24 (colour, shape) classes in the order the Python side uses. */
export const CLASSES: { colour: Colour; shape: Shape; caption: string }[] = COLOUR_NAMES.flatMap((colour) =>
  SHAPES.map((shape) => ({ colour, shape, caption: `a ${colour} ${shape}` })));

export interface SceneObject {
  colour: Colour;
  shape: Shape;
  cx: number; // centre, pixels
  cy: number;
  size: number; // outer diameter, pixels
  angle: number; // radians
  label: number; // index in CLASSES
}

export interface Scene {
  width: number;
  height: number;
  /** RGBA, row-major. */
  rgba: Uint8ClampedArray;
  objects: SceneObject[];
  /** Visible (unoccluded) pixels of each object. */
  masks: Uint8Array[];
}

/** mulberry32: small, fast, good enough for test scenes. Returns a function giving [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function polygonDistance(u: number, v: number, n: number, outer: number, inner: number): number {
  const r = Math.hypot(u, v);
  const sector = (2 * Math.PI) / n;
  let phi = Math.atan2(v, u) % sector;
  if (phi < 0) phi += sector;
  phi = Math.min(phi, sector - phi);
  const a = Math.PI / n;
  const p1x = outer;
  const p1y = 0;
  const ex = inner * Math.cos(a) - p1x;
  const ey = inner * Math.sin(a) - p1y;
  const len = Math.hypot(ex, ey);
  const nx = ey / len;
  const ny = -ex / len;
  const x = r * Math.cos(phi);
  const y = r * Math.sin(phi);
  return -((x - p1x) * nx + (y - p1y) * ny);
}

/** Signed distance in pixels from (x, y) to the object's edge, positive inside. */
export function shapeDistance(o: SceneObject, x: number, y: number): number {
  const c = Math.cos(o.angle);
  const s = Math.sin(o.angle);
  const dx = x - o.cx;
  const dy = y - o.cy;
  const u = c * dx + s * dy;
  const v = -s * dx + c * dy;
  const R = o.size / 2;
  switch (o.shape) {
    case 'circle':
      return R * 0.92 - Math.hypot(u, v);
    case 'square': {
      const h = R * 0.78;
      return Math.min(h - Math.abs(u), h - Math.abs(v));
    }
    case 'triangle':
      return polygonDistance(v, -u, 3, R, R * Math.cos(Math.PI / 3));
    case 'star':
      return polygonDistance(v, -u, 5, R, R * 0.45);
  }
}

export interface SceneOptions {
  width?: number;
  height?: number;
  objects?: number;
  /** No two objects share a colour or a shape. */
  distinct?: boolean;
}

export function makeScene(rand: () => number, opts: SceneOptions = {}): Scene {
  const width = opts.width ?? 64;
  const height = opts.height ?? 64;
  const n = opts.objects ?? 1 + Math.floor(rand() * 4);
  const side = Math.min(width, height);
  const ox = (width - side) / 2;
  const oy = (height - side) / 2;
  const uniform = (lo: number, hi: number) => lo + (hi - lo) * rand();
  const objects: SceneObject[] = [];
  for (let tries = 0; objects.length < n && tries < 200; tries++) {
    const colour = COLOUR_NAMES[Math.floor(rand() * COLOUR_NAMES.length)] as Colour;
    const shape = SHAPES[Math.floor(rand() * SHAPES.length)] as Shape;
    if (objects.some((o) => o.colour === colour && o.shape === shape)) continue;
    if (opts.distinct && objects.some((o) => o.colour === colour || o.shape === shape)) continue;
    let size = side * (n > 1 ? uniform(0.1, 0.45) : uniform(0.15, 0.45));
    if (n >= 3) size = Math.min(size, side * 0.35);
    const r = size / 2;
    const cx = ox + uniform(r, side - r);
    const cy = oy + uniform(r, side - r);
    if (objects.some((o) => Math.hypot(cx - o.cx, cy - o.cy) < 0.75 * (r + o.size / 2))) continue;
    const label = CLASSES.findIndex((k) => k.colour === colour && k.shape === shape);
    objects.push({ colour, shape, cx, cy, size, angle: uniform(0, 2 * Math.PI), label });
  }
  const img = background(rand, width, height);
  const masks = objects.map(() => new Uint8Array(width * height));
  objects.forEach((o, k) => {
    const base = COLOURS[o.colour];
    const rgb = base.map((c) => Math.min(255, Math.max(0, c + uniform(-18, 18))));
    const reach = o.size / 2 + 2;
    const x0 = Math.max(0, Math.floor(o.cx - reach));
    const x1 = Math.min(width, Math.ceil(o.cx + reach));
    const y0 = Math.max(0, Math.floor(o.cy - reach));
    const y1 = Math.min(height, Math.ceil(o.cy + reach));
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        const d = shapeDistance(o, x + 0.5, y + 0.5);
        const cover = Math.min(1, Math.max(0, d + 0.5));
        const i = y * width + x;
        if (cover > 0) for (let ch = 0; ch < 3; ch++) img[3 * i + ch] = (img[3 * i + ch] as number) * (1 - cover) + (rgb[ch] as number) * cover;
        if (d > 0) {
          for (let j = 0; j < k; j++) (masks[j] as Uint8Array)[i] = 0;
          (masks[k] as Uint8Array)[i] = 1;
        }
      }
    }
  });
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    rgba[4 * i] = Math.round(img[3 * i] as number);
    rgba[4 * i + 1] = Math.round(img[3 * i + 1] as number);
    rgba[4 * i + 2] = Math.round(img[3 * i + 2] as number);
    rgba[4 * i + 3] = 255;
  }
  return { width, height, rgba, objects, masks };
}

function background(rand: () => number, w: number, h: number): Float32Array {
  const uniform = (lo: number, hi: number) => lo + (hi - lo) * rand();
  const muted = () => {
    const grey = uniform(40, 220);
    return [0, 1, 2].map(() => Math.min(255, Math.max(0, grey + uniform(-25, 25))));
  };
  const out = new Float32Array(w * h * 3);
  const kind = Math.floor(rand() * 4);
  const a = muted();
  const b = muted();
  const t = uniform(0, 2 * Math.PI);
  const noise = uniform(8, 30);
  const period = uniform(4, 16) * (Math.max(w, h) / 64);
  const checker = rand() < 0.5;
  const span = Math.abs(Math.cos(t)) * (w - 1) + Math.abs(Math.sin(t)) * (h - 1) || 1;
  const minProj = Math.min(0, Math.cos(t) * (w - 1)) + Math.min(0, Math.sin(t) * (h - 1));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = 3 * (y * w + x);
      for (let c = 0; c < 3; c++) {
        let v: number;
        if (kind === 0) v = a[c] as number;
        else if (kind === 1) v = (a[c] as number) + ((b[c] as number) - (a[c] as number)) * ((x * Math.cos(t) + y * Math.sin(t) - minProj) / span);
        else if (kind === 2) v = (a[c] as number) + (c === 0 ? gaussian(rand) * noise : 0);
        else {
          const on = checker
            ? (Math.floor(x / period) + Math.floor(y / period)) % 2 === 0
            : Math.sin(((x * Math.cos(t / 2) + y * Math.sin(t / 2)) * 2 * Math.PI) / period) > 0;
          v = on ? (a[c] as number) : (b[c] as number);
        }
        out[i + c] = v;
      }
      if (kind === 2) {
        out[i + 1] = (a[1] as number) + ((out[i] as number) - (a[0] as number));
        out[i + 2] = (a[2] as number) + ((out[i] as number) - (a[0] as number));
      }
    }
  }
  for (let i = 0; i < out.length; i++) out[i] = Math.min(255, Math.max(0, out[i] as number));
  return out;
}

function gaussian(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

/**
 * Pointing game hit: the map's peak patch has at least 1/16 of its pixels inside the object's
 * visible mask (same rule as tools/models/evaluate.py).
 */
export function pointingHit(values: ArrayLike<number>, grid: number, mask: Uint8Array, width: number, height: number): boolean {
  let peak = 0;
  for (let i = 1; i < values.length; i++) if ((values[i] as number) > (values[peak] as number)) peak = i;
  const py = Math.floor(peak / grid);
  const px = peak % grid;
  const ph = height / grid;
  const pw = width / grid;
  let inside = 0;
  for (let y = py * ph; y < (py + 1) * ph; y++) for (let x = px * pw; x < (px + 1) * pw; x++) inside += mask[y * width + x] as number;
  return inside / (ph * pw) >= 1 / 16;
}
