"""Synthetic scenes of coloured shapes, with captions and per-object visible masks.

Everything is drawn directly at the requested size with analytic anti-aliasing (coverage from
the signed distance to each shape's edge), so training never pays for drawing large and resizing.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (215, 35, 35),
    "green": (35, 165, 55),
    "blue": (35, 70, 215),
    "yellow": (240, 215, 35),
    "purple": (135, 45, 175),
    "orange": (245, 135, 25),
}
SHAPES = ("circle", "square", "triangle", "star")
TEMPLATES = ("a {c} {s}", "a photo of a {c} {s}", "a {s} that is {c}")
CLASSES = [(c, s) for c in COLOURS for s in SHAPES]  # 24 (colour, shape) pairs


def caption(colour: str, shape: str, template: int = 0) -> str:
    return TEMPLATES[template].format(c=colour, s=shape)


@dataclass
class SceneObject:
    colour: str
    shape: str
    cx: float  # centre, in pixels
    cy: float
    size: float  # outer diameter, in pixels
    angle: float  # radians

    @property
    def label(self) -> int:
        return CLASSES.index((self.colour, self.shape))


@dataclass
class Scene:
    image: np.ndarray  # (H, W, 3) uint8
    objects: list[SceneObject]
    masks: np.ndarray  # (n_objects, H, W) bool, visible part of each object (after occlusion)


def _polygon_distance(u: np.ndarray, v: np.ndarray, n: int, outer: float, inner: float) -> np.ndarray:
    """Signed distance (positive inside) to a star polygon with n points, alternating radii
    outer/inner. A regular n-gon is the case inner = outer*cos(pi/n)."""
    r = np.hypot(u, v)
    phi = np.mod(np.arctan2(v, u), 2 * math.pi / n)
    phi = np.minimum(phi, 2 * math.pi / n - phi)  # fold into [0, pi/n]
    a = math.pi / n
    p1 = np.array([outer, 0.0])
    p2 = np.array([inner * math.cos(a), inner * math.sin(a)])
    edge = p2 - p1
    normal = np.array([edge[1], -edge[0]]) / np.linalg.norm(edge)  # points away from the origin
    x, y = r * np.cos(phi), r * np.sin(phi)
    return -((x - p1[0]) * normal[0] + (y - p1[1]) * normal[1])


def shape_distance(obj: SceneObject, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Signed distance in pixels from each pixel centre to the object's edge (positive inside)."""
    c, s = math.cos(obj.angle), math.sin(obj.angle)
    dx, dy = xs - obj.cx, ys - obj.cy
    u, v = c * dx + s * dy, -s * dx + c * dy
    R = obj.size / 2
    if obj.shape == "circle":
        return R * 0.92 - np.hypot(u, v)
    if obj.shape == "square":
        h = R * 0.78
        return np.minimum(h - np.abs(u), h - np.abs(v))
    if obj.shape == "triangle":
        return _polygon_distance(v, -u, 3, R, R * math.cos(math.pi / 3))  # one vertex up
    if obj.shape == "star":
        return _polygon_distance(v, -u, 5, R, R * 0.45)
    raise ValueError(obj.shape)


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Muted backgrounds (flat, gradient, noise, texture) that never look like an object colour."""
    def muted() -> np.ndarray:
        grey = rng.uniform(40, 220)
        tint = rng.uniform(-25, 25, size=3)
        return np.clip(grey + tint, 0, 255)

    kind = rng.integers(4)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == 0:
        img = np.broadcast_to(muted(), (h, w, 3)).astype(np.float32)
    elif kind == 1:
        a, b = muted(), muted()
        t = rng.uniform(0, 2 * math.pi)
        proj = (xs * math.cos(t) + ys * math.sin(t))
        proj = (proj - proj.min()) / max(proj.max() - proj.min(), 1e-6)
        img = a + (b - a) * proj[..., None]
    elif kind == 2:
        base = muted()
        img = base + rng.normal(0, rng.uniform(8, 30), size=(h, w, 1))
    else:
        a, b = muted(), muted()
        period = rng.uniform(4, 16) * max(h, w) / 64
        t = rng.uniform(0, math.pi)
        if rng.random() < 0.5:
            stripes = np.sin((xs * math.cos(t) + ys * math.sin(t)) * 2 * math.pi / period) > 0
        else:
            stripes = (np.floor(xs / period) + np.floor(ys / period)) % 2 == 0
        img = np.where(stripes[..., None], a, b)
    return np.asarray(img, dtype=np.float32)


def make_scene(rng: np.random.Generator, width: int = 64, height: int = 64, n_objects: int | None = None,
               distinct: bool = False, crop_square: bool = True) -> Scene:
    """Draw 1-4 objects (sizes 10-45 % of the short side) on a random background.

    `distinct`: no two objects share a colour or a shape (for the two-object ranking test).
    `crop_square`: keep objects inside the centred square of a non-square image, the part that
    the CLIP preprocessing (resize shortest edge, centre crop) keeps.
    """
    if n_objects is None:
        n_objects = int(rng.integers(1, 5))
    side = min(width, height)
    ox, oy = (width - side) / 2 if crop_square else 0, (height - side) / 2 if crop_square else 0
    span_w, span_h = (side, side) if crop_square else (width, height)
    img = _background(rng, height, width)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32) + 0.5
    objects: list[SceneObject] = []
    used: set[tuple[str, str]] = set()
    tries = 0
    while len(objects) < n_objects and tries < 200:
        tries += 1
        colour = list(COLOURS)[rng.integers(len(COLOURS))]
        shape = SHAPES[rng.integers(len(SHAPES))]
        if (colour, shape) in used:
            continue
        if distinct and any(o.colour == colour or o.shape == shape for o in objects):
            continue
        size = side * rng.uniform(0.10, 0.45) if n_objects > 1 else side * rng.uniform(0.15, 0.45)
        if n_objects >= 3:
            size = min(size, side * 0.35)
        r = size / 2
        cx = ox + rng.uniform(r, span_w - r)
        cy = oy + rng.uniform(r, span_h - r)
        # Keep objects mostly apart so each stays recognisable.
        if any(math.hypot(cx - o.cx, cy - o.cy) < 0.75 * (r + o.size / 2) for o in objects):
            continue
        objects.append(SceneObject(colour, shape, cx, cy, size, rng.uniform(0, 2 * math.pi)))
        used.add((colour, shape))
    masks = np.zeros((len(objects), height, width), dtype=bool)
    for i, obj in enumerate(objects):
        d = shape_distance(obj, xs, ys)
        cover = np.clip(d + 0.5, 0.0, 1.0)[..., None]
        rgb = np.array(COLOURS[obj.colour], dtype=np.float32) + rng.uniform(-18, 18, size=3)
        img = img * (1 - cover) + np.clip(rgb, 0, 255) * cover
        inside = d > 0
        masks[:i] &= ~inside
        masks[i] = inside
    return Scene(np.clip(img + 0.5, 0, 255).astype(np.uint8), objects, masks)
