"""Vector shapes, similarity transforms and rasterisation with a part-label map.

Everything in a scene is a list of :class:`Part` objects made of three shape
kinds (filled polygon, thick round-capped polyline, disc/ring).  Rendering draws
each shape twice: anti-aliased into the picture, and without anti-aliasing into
an integer label map holding which part owns each pixel.  The evidence mask is
then read off the label map, so it is exactly the visible footprint of the
evidence parts, occlusion included, and can never land on background.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

Color = tuple[int, int, int]
Vec = np.ndarray

_SHIFT = 4  # OpenCV fixed-point bits: sub-pixel precision for every primitive
_ONE = 1 << _SHIFT

ROLES = ("clutter", "distractor", "figure", "prop")


def vec(x: float, y: float) -> Vec:
    return np.array([x, y], dtype=np.float64)


def direction(angle_deg: float) -> Vec:
    """Unit vector for an angle: 0 points down, 90 forward (+x), 180 up (y grows downwards)."""
    a = math.radians(angle_deg)
    return vec(math.sin(a), math.cos(a))


def rotate(v: Vec, angle_deg: float) -> Vec:
    """Rotate ``v`` by ``angle_deg`` in the same sense as :func:`direction` angles grow."""
    a = math.radians(angle_deg)
    c, s = math.cos(a), math.sin(a)
    return vec(c * v[0] + s * v[1], -s * v[0] + c * v[1])


def perp(v: Vec) -> Vec:
    """``v`` turned a quarter towards where :func:`direction` angles grow (down -> forward)."""
    return vec(v[1], -v[0])


@dataclass(frozen=True, slots=True)
class Poly:
    """A filled polygon."""

    pts: np.ndarray
    color: Color


@dataclass(frozen=True, slots=True)
class Stroke:
    """A thick polyline with round caps and joins (limbs, frames, handles)."""

    pts: np.ndarray
    width: float
    color: Color
    closed: bool = False


@dataclass(frozen=True, slots=True)
class Disc:
    """A filled disc, or a ring of width ``ring`` when ``ring > 0`` (heads, wheels, hands)."""

    center: np.ndarray
    radius: float
    color: Color
    ring: float = 0.0


Shape = Poly | Stroke | Disc


@dataclass(frozen=True, slots=True)
class Similarity:
    """``p -> origin + scale * R(rotation) @ (flip * x, y)``; widths and radii scale by ``scale``."""

    scale: float = 1.0
    origin: tuple[float, float] = (0.0, 0.0)
    flip: int = 1
    rotation: float = 0.0  # degrees, same sense as :func:`rotate`

    def points(self, pts: np.ndarray) -> np.ndarray:
        p = np.asarray(pts, dtype=np.float64).reshape(-1, 2) * (self.flip, 1)
        if self.rotation:
            a = math.radians(self.rotation)
            c, s = math.cos(a), math.sin(a)
            p = p @ np.array([[c, -s], [s, c]])
        return p * self.scale + self.origin

    def point(self, p: Vec) -> Vec:
        return self.points(p)[0]

    def inverse_point(self, p: Vec) -> Vec:
        q = (np.asarray(p, dtype=np.float64) - self.origin) / self.scale
        if self.rotation:
            q = rotate(q, -self.rotation)
        return q * (self.flip, 1)

    def shape(self, shape: Shape) -> Shape:
        if isinstance(shape, Poly):
            return Poly(self.points(shape.pts), shape.color)
        if isinstance(shape, Stroke):
            return Stroke(self.points(shape.pts), shape.width * self.scale, shape.color, shape.closed)
        return Disc(self.point(shape.center), shape.radius * self.scale, shape.color, shape.ring * self.scale)


@dataclass(slots=True)
class Part:
    """A named group of shapes drawn together: one label-map id, one evidence flag.

    ``role`` says what the part is to the scene (clutter, distractor, figure, prop);
    ``evidence`` whether its pixels belong to the action's evidence mask.
    """

    name: str
    role: str
    evidence: bool
    shapes: list[Shape] = field(default_factory=list)

    def moved(self, t: Similarity) -> Part:
        return Part(self.name, self.role, self.evidence, [t.shape(s) for s in self.shapes])


def bbox(parts: list[Part]) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) of everything drawn, stroke widths and radii included."""
    lo = np.full(2, np.inf)
    hi = np.full(2, -np.inf)
    for part in parts:
        for s in part.shapes:
            if isinstance(s, Disc):
                pts, pad = s.center.reshape(1, 2), s.radius
            else:
                pts, pad = s.pts, (s.width / 2 if isinstance(s, Stroke) else 0.0)
            lo = np.minimum(lo, pts.min(axis=0) - pad)
            hi = np.maximum(hi, pts.max(axis=0) + pad)
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


def shade(color: Color, k: float) -> Color:
    return tuple(int(max(0, min(255, round(c * k)))) for c in color)  # type: ignore[return-value]


def mix(a: Color, b: Color, t: float) -> Color:
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b, strict=False))  # type: ignore[return-value]


def _fixed(pts: np.ndarray, ss: int) -> np.ndarray:
    return np.round(np.asarray(pts).reshape(-1, 2) * (ss * _ONE)).astype(np.int32)


def draw_shape(img: np.ndarray, labels: np.ndarray, shape: Shape, label: int, ss: int) -> None:
    """Draw one shape anti-aliased into ``img`` and aliased with value ``label`` into ``labels``."""
    aa, hard = cv2.LINE_AA, cv2.LINE_8
    lab = (int(label),)
    if isinstance(shape, Poly):
        pts = [_fixed(shape.pts, ss)]
        cv2.fillPoly(img, pts, shape.color, aa, _SHIFT)
        cv2.fillPoly(labels, pts, lab, hard, _SHIFT)
    elif isinstance(shape, Stroke):
        pts = _fixed(shape.pts, ss)
        thick = max(1, int(round(shape.width * ss)))
        if len(pts) == 1:
            r = max(1, int(round(shape.width * ss * _ONE / 2)))
            center = (int(pts[0, 0]), int(pts[0, 1]))
            cv2.circle(img, center, r, shape.color, -1, aa, _SHIFT)
            cv2.circle(labels, center, r, lab, -1, hard, _SHIFT)
        else:
            cv2.polylines(img, [pts], shape.closed, shape.color, thick, aa, _SHIFT)
            cv2.polylines(labels, [pts], shape.closed, lab, thick, hard, _SHIFT)
    else:
        c = _fixed(shape.center, ss)[0]
        center = (int(c[0]), int(c[1]))
        r = max(1, int(round(shape.radius * ss * _ONE)))
        thick = -1 if shape.ring <= 0 else max(1, int(round(shape.ring * ss)))
        cv2.circle(img, center, r, shape.color, thick, aa, _SHIFT)
        cv2.circle(labels, center, r, lab, thick, hard, _SHIFT)


def rasterize(parts: list[Part], canvas: np.ndarray, ss: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``parts`` in order over ``canvas`` (an ``ss``-times supersampled RGB array).

    Returns the drawn picture and the label map (0 = nothing drawn, ``i + 1`` = ``parts[i]``).
    """
    img = canvas.copy()
    labels = np.zeros(img.shape[:2], dtype=np.int32)
    for i, part in enumerate(parts, start=1):
        for shape in part.shapes:
            draw_shape(img, labels, shape, i, ss)
    return img, labels


def downsample(img: np.ndarray, ss: int) -> np.ndarray:
    """Area-average an ``ss``-times supersampled picture back to its final size."""
    if ss == 1:
        return img
    h, w = img.shape[0] // ss, img.shape[1] // ss
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)


def downsample_mask(mask: np.ndarray, ss: int) -> np.ndarray:
    """A final-size pixel is in the mask when at least half of its sub-pixels are."""
    if ss == 1:
        return mask.copy()
    h, w = mask.shape[0] // ss, mask.shape[1] // ss
    counts = mask.reshape(h, ss, w, ss).sum(axis=(1, 3))
    return counts * 2 >= ss * ss


def downsample_ids(ids: np.ndarray, ss: int, n_ids: int) -> np.ndarray:
    """A final-size pixel takes the id (below ``n_ids``) covering most of its sub-pixels; the higher id wins a tie.

    So id 0 (nothing, or background) loses ties, and a pixel half covered by a
    part belongs to it, as :func:`downsample_mask` counts it into the mask.  Only
    the pixels on an edge (sub-pixels of several ids) are counted; the rest keep their one id.
    """
    planes = [ids[i::ss, j::ss] for i in range(ss) for j in range(ss)]  # sub-pixel (i, j) of every pixel
    out = planes[0].astype(np.uint8)
    edge = np.zeros(out.shape, dtype=bool)
    for plane in planes[1:]:
        edge |= plane != planes[0]
    rows, cols = np.nonzero(edge)
    if rows.size:
        subs = np.stack([plane[rows, cols] for plane in planes], axis=1).astype(np.int64)
        slots = (np.arange(rows.size) * n_ids)[:, None] + subs
        votes = np.bincount(slots.ravel(), minlength=rows.size * n_ids).reshape(rows.size, n_ids)
        out[rows, cols] = n_ids - 1 - votes[:, ::-1].argmax(axis=1)  # argmax takes the first of equals
    return out


OUTLINE = 0.012  # dark rim around body parts, so an arm in front of a same-coloured shirt stays visible


def outlined(shapes: list[Shape], k: float = 0.55) -> list[Shape]:
    """All outlines first (darker, wider), then all fills, so joints show no seams."""
    rims: list[Shape] = []
    for s in shapes:
        if isinstance(s, Stroke):
            rims.append(Stroke(s.pts, s.width + OUTLINE, shade(s.color, k), s.closed))
        elif isinstance(s, Disc) and s.ring <= 0:
            rims.append(Disc(s.center, s.radius + OUTLINE / 2, shade(s.color, k)))
        elif isinstance(s, Poly):
            rims.append(Stroke(s.pts, OUTLINE, shade(s.color, k), closed=True))
    return rims + list(shapes)


# --- shape helpers --------------------------------------------------------------------------


def ellipse_pts(
    center: Vec, rx: float, ry: float, up: Vec | None = None, n: int = 28, a0: float = 0.0, a1: float = 360.0
) -> np.ndarray:
    """Points on an ellipse (or an arc of it); ``up`` orients its ``ry`` axis (default: image up)."""
    up = vec(0.0, -1.0) if up is None else up / np.linalg.norm(up)
    side = vec(-up[1], up[0])
    t = np.radians(np.linspace(a0, a1, n, endpoint=(a1 - a0) < 360.0))
    return center + np.outer(np.cos(t) * rx, side) + np.outer(np.sin(t) * ry, up)


def box_pts(center: Vec, w: float, h: float, up: Vec | None = None) -> np.ndarray:
    """Corners of a ``w`` x ``h`` rectangle whose ``h`` side runs along ``up``."""
    up = vec(0.0, -1.0) if up is None else up / np.linalg.norm(up)
    side = vec(-up[1], up[0])
    return np.array([center + sx * w / 2 * side + sy * h / 2 * up for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))])


def rounded_box(
    center: Vec, w: float, h: float, color: Color, up: Vec | None = None, r: float | None = None
) -> list[Shape]:
    """A rectangle with round corners: an inner polygon outlined by a stroke of width ``2r``."""
    r = min(w, h) * 0.25 if r is None else r
    inner = box_pts(center, max(w - 2 * r, 1e-3), max(h - 2 * r, 1e-3), up)
    return [Poly(inner, color), Stroke(inner, 2 * r, color, closed=True)]
