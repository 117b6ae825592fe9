"""Scenes: background, clutter, distractor props and one action group, composed and rendered.

Sampling (:func:`sample_scene`) draws every random choice into a :class:`Scene`;
rendering it is a pure function, so the same scene can be drawn again without
its figure (the background the figure covers) or without its distractors, which
is how the tests check that the evidence mask lies on the figure and never on a
distractor.  Distractors are props lying around *unused* (a phone on the floor,
a wheel against the wall): they are never evidence.  The sampling comes in
three steps (:func:`sample_backdrop`, :func:`place_group`, :func:`compose_scene`)
so a video can sample its static scene once and re-pose only its figure.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from hartrace.base.errors import UsageError
from hartrace.synth import props
from hartrace.synth.actions import ACTIONS, Ctx
from hartrace.synth.actions_more import FOODS, PLATES, WOODS
from hartrace.synth.draw import (
    ROLES,
    Color,
    Disc,
    Part,
    Poly,
    Shape,
    Similarity,
    Stroke,
    bbox,
    direction,
    downsample,
    downsample_ids,
    downsample_mask,
    ellipse_pts,
    mix,
    rasterize,
    shade,
    vec,
)
from hartrace.synth.palette import Palette, hsv
from hartrace.synth.parts import CONCEPTS, concept_lut
from hartrace.synth.recipes import recipe

SS = 2  # supersampling factor: draw at 2x, area-average down


@dataclass(frozen=True)
class Background:
    """A solid or gradient wall, optionally a floor below ``floor_y`` (pixels)."""

    kind: str
    c0: Color
    c1: Color
    floor_y: float | None
    floor0: Color
    floor1: Color

    @functools.lru_cache(maxsize=16)  # noqa: B019  (frozen and small: a video paints the same wall for every frame)
    def paint(self, size: int, ss: int = SS) -> np.ndarray:
        """The wall (and floor) at ``ss`` times ``size``; read-only, as it is shared between frames."""
        n = size * ss
        t = (np.arange(n, dtype=np.float32) + 0.5) / n
        if self.kind == "vertical":
            w = np.broadcast_to(t[:, None], (n, n))
        elif self.kind == "horizontal":
            w = np.broadcast_to(t[None, :], (n, n))
        elif self.kind == "diagonal":
            w = (t[:, None] + t[None, :]) / 2
        else:
            w = np.zeros((n, n), dtype=np.float32)
        c0, c1 = np.array(self.c0, np.float32), np.array(self.c1, np.float32)
        img = c0 + w[..., None] * (c1 - c0)
        if self.floor_y is not None:
            top = int(round(self.floor_y * ss))
            if top < n:
                f = np.linspace(0.0, 1.0, n - top, dtype=np.float32)[:, None, None]
                f0, f1 = np.array(self.floor0, np.float32), np.array(self.floor1, np.float32)
                img[top:] = f0 + f * (f1 - f0)
        out = np.clip(np.round(img), 0, 255).astype(np.uint8)
        out.flags.writeable = False
        return out


@dataclass(frozen=True)
class Rendered:
    """A rendered scene: RGB ``image`` and bool evidence ``mask``, both ``[size, size]``."""

    image: np.ndarray
    mask: np.ndarray
    _labels: np.ndarray  # supersampled part ids before mirroring (0 = nothing drawn)
    _roles: tuple[str, ...]  # role of part id i + 1
    _mirror: bool
    _names: tuple[str, ...]  # name of part id i + 1

    def visible(self, role: str) -> np.ndarray:
        """Bool ``[size, size]``: pixels (at least half) showing parts of ``role`` (e.g. ``"distractor"``)."""
        lut = np.array([False] + [r == role for r in self._roles])
        out = downsample_mask(lut[self._labels], SS)
        return np.ascontiguousarray(out[:, ::-1]) if self._mirror else out

    def concept_map(self) -> np.ndarray:
        """uint8 ``[size, size]``: the id in :data:`~hartrace.synth.parts.CONCEPTS` of what each pixel shows.

        A pixel takes the concept covering most of its sub-pixels, and in a tie the later one in the legend:
        a half-covered pixel the part's, as the evidence mask counts it, and the edge of a phone in a hand
        the phone's. Mirrored with the image.
        """
        ids = concept_lut(self._names, self._roles)[self._labels]
        out = downsample_ids(ids, SS, len(CONCEPTS))
        return np.ascontiguousarray(out[:, ::-1]) if self._mirror else out


@dataclass
class Scene:
    """Everything needed to draw one picture, in final-image pixel coordinates."""

    action: str
    size: int
    background: Background
    parts: list[Part]
    mirror: bool

    def render(self, roles: Iterable[str] = ROLES) -> Rendered:
        """Draw the parts whose role is in ``roles`` (all by default) over the background."""
        keep = set(roles)
        parts = [p for p in self.parts if p.role in keep]
        img, labels = rasterize(parts, self.background.paint(self.size, SS), SS)
        evidence = np.array([False] + [p.evidence for p in parts])
        mask = downsample_mask(evidence[labels], SS)
        image = downsample(img, SS)
        if self.mirror:
            image, mask = image[:, ::-1], mask[:, ::-1]
        return Rendered(
            np.ascontiguousarray(image),
            np.ascontiguousarray(mask),
            labels,
            tuple(p.role for p in parts),
            self.mirror,
            tuple(p.name for p in parts),
        )


# --- background and clutter -----------------------------------------------------------------


def _background(rng: np.random.Generator) -> tuple[str, Color, Color]:
    h = rng.random()
    c0 = hsv(h, rng.uniform(0.05, 0.5), rng.uniform(0.45, 0.97))
    kind = str(rng.choice(["solid", "vertical", "horizontal", "diagonal"], p=[0.2, 0.4, 0.2, 0.2]))
    c1 = hsv(h + rng.uniform(-0.15, 0.15), rng.uniform(0.05, 0.5), rng.uniform(0.45, 0.97)) if kind != "solid" else c0
    return kind, c0, c1


def _clutter(rng: np.random.Generator, size: int, base: Color) -> tuple[list[Shape], list[Color]]:
    """Muted wall shapes: panels, frames, shelves, discs, triangles, blobs."""
    shapes: list[Shape] = []
    colors: list[Color] = []
    for _ in range(int(rng.integers(3, 10))):
        c = mix(hsv(rng.random(), rng.uniform(0.1, 0.7), rng.uniform(0.3, 1.0)), base, rng.uniform(0.35, 0.65))
        colors.append(c)
        x, y = rng.uniform(-0.1, 1.0, 2) * size
        w, h = rng.uniform(0.08, 0.4, 2) * size
        kind = rng.choice(["panel", "frame", "shelf", "disc", "tri", "blob"])
        if kind == "panel":
            shapes.append(Poly(np.array([(x, y), (x + w, y), (x + w, y + h), (x, y + h)]), c))
        elif kind == "frame":
            rect = np.array([(x, y), (x + w, y), (x + w, y + h), (x, y + h)])
            shapes.append(Stroke(rect, rng.uniform(0.01, 0.03) * size, c, closed=True))
        elif kind == "shelf":
            shapes.append(Stroke(np.array([(x, y), (x + w * 1.5, y)]), rng.uniform(0.012, 0.03) * size, c))
        elif kind == "disc":
            shapes.append(Disc(vec(x, y), w / 3, c))
        elif kind == "tri":
            shapes.append(Poly(np.array([(x, y + h), (x + w, y + h), (x + w * rng.uniform(0.2, 0.8), y)]), c))
        else:
            shapes.append(Poly(ellipse_pts(vec(x, y), w / 2, h / 3, n=20), c))
    return shapes, colors


# --- distractors: props lying around unused -------------------------------------------------


def _on_floor(shapes: list[Shape]) -> list[Shape]:
    """Shift shapes so their bounding box sits centred on (0, 0), bottom at y = 0."""
    x0, _, x1, y1 = bbox([Part("", "", False, shapes)])
    t = Similarity(1.0, (-(x0 + x1) / 2, -y1))
    return [t.shape(s) for s in shapes]


Pieces = list[tuple[str, list[Shape]]]  # a distractor's shapes by kind: a cup and the stool it stands on


def _d_phone(ctx: Ctx) -> Pieces:
    shapes = props.phone_lying(
        vec(0, 0),
        ctx.pal.choice([(28, 28, 32), (235, 235, 240), (40, 70, 160)]),
        ctx.pal.choice([(120, 200, 255), (60, 60, 70)]),
    )
    return [("phone", shapes)]


def _stool(ctx: Ctx, height: float) -> Pieces:
    """A small side table (a ``table``) for a distractor to stand on."""
    return [("table", props.table(-0.12, 0.12, -height, 0.0, ctx.pal.choice(WOODS)))]


def _d_cup(ctx: Ctx) -> Pieces:
    h = ctx.u(0.25, 0.42) if ctx.chance(0.6) else 0.0
    under = _stool(ctx, h) if h else []
    cup, _ = props.cup(
        vec(0.0, -h - 0.05), vec(0, -1), ctx.pal.color(), handle=1 if ctx.chance(0.5) else -1, glass=ctx.chance(0.3)
    )
    return under + [("cup", cup)]


def _d_wheel(ctx: Ctx) -> Pieces:
    return [("wheel", props.wheel(vec(0, 0), 0.19))]


def _d_headphones(ctx: Ctx) -> Pieces:
    shapes, _ = props.headphones(vec(0, 0), 0.085, direction(180.0 + ctx.u(-60, 60)), ctx.pal.color(), (40, 40, 40))
    return [("headphones", shapes)]


def _d_laptop(ctx: Ctx) -> Pieces:
    shell = ctx.pal.choice([(190, 192, 198), (40, 40, 45), (120, 125, 135)])
    if ctx.chance(0.5):
        return [("laptop", props.laptop_closed(vec(0, 0), shell))]
    h = ctx.u(0.25, 0.4)
    under = _stool(ctx, h)
    return under + [("laptop", props.laptop(-0.1, 0.06, -h - 0.012, 0.15, ctx.u(95, 120), shell, shade(shell, 0.6)))]


def _d_chair(ctx: Ctx) -> Pieces:
    return [("chair", props.chair(-0.1, 0.12, -0.17, 0.0, -0.48, ctx.pal.choice(WOODS)))]


def _d_plate(ctx: Ctx) -> Pieces:
    h = ctx.u(0.25, 0.42)
    food = [ctx.pal.choice(FOODS) for _ in range(2)]
    return _stool(ctx, h) + [("plate", props.plate(vec(0.0, -h - 0.012), ctx.pal.choice(PLATES), food))]


def _d_bike(ctx: Ctx) -> Pieces:
    far, main, near, _, _ = props.bicycle(
        vec(-0.3, -0.19),
        vec(0.32, -0.19),
        vec(-0.05, -0.16),
        vec(-0.15, -0.45),
        vec(0.22, -0.46),
        vec(0.25, -0.37),
        vec(0.2, -0.54),
        vec(0.15, -0.53),
        ctx.u(0, 360),
        ctx.pal.color(),
    )
    return [("bicycle", far + main + near)]


DISTRACTORS: dict[str, tuple[float, Callable[[Ctx], Pieces]]] = {
    "phone": (3.0, _d_phone),
    "cup": (3.0, _d_cup),
    "wheel": (2.0, _d_wheel),
    "headphones": (2.0, _d_headphones),
    "laptop": (2.0, _d_laptop),
    "chair": (1.5, _d_chair),
    "plate": (1.5, _d_plate),
    "bike": (0.7, _d_bike),
}


def _overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _distractors(
    ctx: Ctx, size: int, scale: float, avoid: list[tuple[float, ...]], floor_y: float | None
) -> list[Part]:
    names = list(DISTRACTORS)
    weights = np.array([DISTRACTORS[n][0] for n in names])
    out: list[Part] = []
    for _ in range(int(ctx.rng.choice([0, 1, 1, 2, 2, 3]))):
        name = names[int(ctx.rng.choice(len(names), p=weights / weights.sum()))]
        pieces = DISTRACTORS[name][1](ctx)
        shapes = _on_floor([shape for _, piece in pieces for shape in piece])
        s = scale * ctx.u(0.8, 1.15)
        x0, y0, x1, _ = bbox([Part("", "", False, shapes)])
        w, h = (x1 - x0) * s, -y0 * s
        for _ in range(12):
            cx = ctx.u(w / 2 + 1, size - w / 2 - 1) if w + 2 < size else size / 2
            lo = max(h + 1, floor_y + 0.03 * size) if floor_y is not None else h + 1
            if lo >= size - 1:
                break
            by = ctx.u(lo, size - 1)
            box = (cx - w / 2, by - h, cx + w / 2, by)
            if box[0] < 0 or box[2] > size or any(_overlaps(box, o) for o in avoid):
                continue
            t = Similarity(s, (cx, by))
            start = 0
            for kind, piece in pieces:  # one part per kind, so the stool under a cup is a table, not a cup
                drawn = [t.shape(sh) for sh in shapes[start : start + len(piece)]]
                out.append(Part("distractor_" + kind, "distractor", False, drawn))
                start += len(piece)
            avoid.append(box)
            break
    return out


# --- composition ----------------------------------------------------------------------------


@dataclass
class Backdrop:
    """The wall, floor and clutter of a picture, sampled before its action so the figure's colours avoid them.

    A video samples one and keeps it for all its frames; ``ctx`` carries the
    palette (and the generator) the action's recipe draws with.
    """

    kind: str
    c0: Color
    c1: Color
    floor: bool
    f0: Color
    f1: Color
    board: Color | None
    clutter: list[Shape]
    ctx: Ctx


def sample_backdrop(rng: np.random.Generator, size: int) -> Backdrop:
    """Wall, floor and clutter colours and shapes, and a palette that keeps away from them."""
    kind, c0, c1 = _background(rng)
    base = mix(c0, c1, 0.5)
    floor = bool(rng.random() < 0.65)
    f0 = hsv(rng.random(), rng.uniform(0.05, 0.5), rng.uniform(0.3, 0.8))
    f1 = shade(f0, rng.uniform(0.8, 1.2))
    board = mix(shade(base, 0.6), base, 0.3) if floor and rng.random() < 0.6 else None
    clutter, clutter_colors = _clutter(rng, size, base)
    avoid = [c0, c1, base] + ([f0, f1] if floor else []) + ([board] if board else []) + clutter_colors
    return Backdrop(kind, c0, c1, floor, f0, f1, board, clutter, Ctx(rng, Palette(rng, avoid)))


def place_group(rng: np.random.Generator, size: int, extent: tuple[float, float, float, float]) -> Similarity:
    """Scale and place an action group whose bounding box is ``extent``: not always centred, never cut off."""
    gx0, gy0, gx1, gy1 = extent
    bw, bh = gx1 - gx0, gy1 - gy0
    s = min(rng.uniform(0.55, 0.9) * size / bh, 0.94 * size / bw)
    m = 0.02 * size
    ox = rng.uniform(m, max(m, size - m - bw * s))
    oy = rng.uniform(m, max(m, size - m - bh * s))
    return Similarity(s, (ox - gx0 * s, oy - gy0 * s))


def compose_scene(
    action: str,
    size: int,
    backdrop: Backdrop,
    parts: list[Part],
    place: Similarity,
    ground: float,
    extent: tuple[float, float, float, float] | None = None,
) -> Scene:
    """Finish a scene around the placed action ``parts``: a floor under ``ground`` (group frame), distractors
    clear of ``extent`` (pixels; default the parts' bounding box) and a random mirroring."""
    rng, s = backdrop.ctx.rng, place.scale
    floor_y = None
    if backdrop.floor:
        ground_px = place.point(vec(0.0, ground))[1]
        floor_y = float(ground_px - s * rng.uniform(0.06, 0.3))
    gb = extent if extent is not None else bbox(parts)
    pad = 0.04 * size
    taken = [(gb[0] - pad, gb[1] - pad, gb[2] + pad, gb[3] + pad)]
    return finish_scene(action, size, backdrop, parts, floor_y, distractors_at=s, avoid=taken)


def finish_scene(
    name: str,
    size: int,
    backdrop: Backdrop,
    parts: list[Part],
    floor_y: float | None,
    *,
    distractors_at: float | None = None,
    avoid: list[tuple[float, ...]] | None = None,
) -> Scene:
    """The backdrop's wall, with a floor from ``floor_y`` (pixels; none when too high or low), under its clutter,
    distractors drawn ``distractors_at`` pixels per standing height clear of the ``avoid`` boxes (none when
    None), then ``parts``; mirrored half of the time."""
    rng = backdrop.ctx.rng
    clutter = list(backdrop.clutter)
    if floor_y is not None and not 0.3 * size <= floor_y <= size - 4:
        floor_y = None
    if floor_y is not None and backdrop.board is not None:  # a skirting board along the wall
        line = np.array([(-5.0, floor_y), (size + 5.0, floor_y)])
        clutter.append(Stroke(line, rng.uniform(0.01, 0.025) * size, backdrop.board))
    background = Background(backdrop.kind, backdrop.c0, backdrop.c1, floor_y, backdrop.f0, backdrop.f1)
    extra = [] if distractors_at is None else _distractors(backdrop.ctx, size, distractors_at, avoid or [], floor_y)
    mirror = bool(rng.random() < 0.5)
    return Scene(name, size, background, [Part("clutter", "clutter", False, clutter)] + extra + parts, mirror)


def sample_scene(action: str, rng: np.random.Generator, size: int) -> Scene:
    """Draw every random choice of one picture of ``action`` from ``rng``."""
    if action not in ACTIONS:
        raise UsageError(f"unknown action {action!r}; expected one of: {', '.join(ACTIONS)}")
    backdrop = sample_backdrop(rng, size)
    group = recipe(action)(backdrop.ctx)
    place = place_group(rng, size, bbox(group.parts))
    return compose_scene(action, size, backdrop, [p.moved(place) for p in group.parts], place, group.ground)


def render_scene(action: str, rng: np.random.Generator, size: int) -> tuple[Image.Image, np.ndarray]:
    """One RGB image of ``action`` and its bool evidence mask ``[size, size]``, all randomness from ``rng``."""
    if not isinstance(size, (int, np.integer)) or size < 32:
        raise UsageError(f"image size must be an integer of at least 32 pixels, got {size!r}")
    out = sample_scene(action, rng, int(size)).render()
    return Image.fromarray(out.image, "RGB"), out.mask
