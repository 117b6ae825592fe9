"""Props as shape lists in a figure's local frame (units of standing height, y down).

Each function only draws; where the prop goes (in a hand, on a table, on the
floor as a distractor) is decided by the action recipes and the scene.
"""

from __future__ import annotations

import math

import numpy as np

from hartrace.synth.draw import (
    Color,
    Disc,
    Poly,
    Shape,
    Stroke,
    Vec,
    box_pts,
    direction,
    ellipse_pts,
    outlined,
    rounded_box,
    shade,
    vec,
)

DARK: Color = (28, 28, 32)
METAL: Color = (170, 172, 180)
METALS: tuple[Color, ...] = (METAL, (220, 222, 228), (90, 92, 100), (200, 170, 90))


def _side(up: Vec) -> Vec:
    return vec(-up[1], up[0])


def phone(center: Vec, up: Vec, body: Color, screen: Color, length: float = 0.11, width: float = 0.058) -> list[Shape]:
    """A smartphone: dark rounded slab with a lit screen."""
    up = up / np.linalg.norm(up)
    return rounded_box(center, width, length, body, up, r=0.012) + [
        Poly(box_pts(center + up * 0.004, width * 0.68, length * 0.72, up), screen)
    ]


def phone_lying(base: Vec, body: Color, screen: Color) -> list[Shape]:
    """A phone flat on the floor, seen slightly from above."""
    x, y = base
    pts = np.array([(x - 0.06, y), (x + 0.05, y), (x + 0.07, y - 0.035), (x - 0.04, y - 0.035)])
    inner = np.array([(x - 0.045, y - 0.006), (x + 0.038, y - 0.006), (x + 0.053, y - 0.029), (x - 0.03, y - 0.029)])
    return [Poly(pts, body), Stroke(pts, 0.01, body, closed=True), Poly(inner, screen)]


def cup(
    center: Vec, up: Vec, color: Color, handle: int = 1, glass: bool = False, liquid: Color = (110, 60, 30)
) -> tuple[list[Shape], Vec]:
    """A mug (or a glass when ``glass``), axis along ``up``; returns shapes and where a hand holds it."""
    up = up / np.linalg.norm(up)
    side = _side(up)
    h, wt, wb = (0.1, 0.062, 0.05) if glass else (0.088, 0.07, 0.06)
    body = np.array(
        [
            center - side * wb / 2 - up * h / 2,
            center + side * wb / 2 - up * h / 2,
            center + side * wt / 2 + up * h / 2,
            center - side * wt / 2 + up * h / 2,
        ]
    )
    shapes: list[Shape] = []
    grip = center + handle * side * (wt / 2 + 0.01)
    if not glass:
        hc = center + handle * side * wt / 2
        a0, a1 = (-75.0, 75.0) if handle > 0 else (105.0, 255.0)
        shapes.append(Stroke(ellipse_pts(hc, 0.028, 0.026, up, n=10, a0=a0, a1=a1), 0.013, color))
        grip = center + handle * side * (wt / 2 + 0.026)
    shapes.append(Poly(body, color))
    shapes.append(Stroke(body, 0.008, color if not glass else shade(color, 0.8), closed=True))
    if glass:  # the drink shows through
        fill = np.array(
            [body[0], body[1], center + side * wt * 0.48 + up * h * 0.15, center - side * wt * 0.48 + up * h * 0.15]
        )
        shapes.append(Poly(fill, liquid))
    shapes.append(Poly(ellipse_pts(center + up * h / 2, wt / 2, 0.011, up, n=14), shade(color, 0.55)))
    return shapes, grip


def plate(center: Vec, color: Color, food: list[Color], width: float = 0.17) -> list[Shape]:
    """A plate seen slightly from above with two or three bits of food on it."""
    shapes: list[Shape] = [
        Poly(ellipse_pts(center, width / 2, width * 0.14, n=24), shade(color, 0.85)),
        Poly(ellipse_pts(center - vec(0, 0.004), width * 0.36, width * 0.09, n=20), color),
    ]
    xs = np.linspace(-width * 0.22, width * 0.22, len(food))
    for x, c in zip(xs, food, strict=False):
        shapes.append(Poly(ellipse_pts(center + vec(x, -0.016), 0.026, 0.02, n=12), c))
    return shapes


def utensil(hand: Vec, tip: Vec, color: Color, food: Color, spoon: bool) -> list[Shape]:
    """A fork or spoon from the hand to ``tip``, with a bite of food on it."""
    d = (tip - hand) / max(float(np.linalg.norm(tip - hand)), 1e-6)
    side = _side(d)
    head = tip - d * 0.03
    shapes: list[Shape] = [Stroke(np.array([hand - d * 0.03, head]), 0.012, color)]
    if spoon:
        shapes.append(Poly(ellipse_pts(tip - d * 0.01, 0.014, 0.024, d, n=12), color))
    else:
        for k in (-1, 0, 1):
            shapes.append(Stroke(np.array([head + side * k * 0.008, tip + side * k * 0.01]), 0.006, color))
    shapes.append(Disc(tip - d * 0.008 + side * 0.004, 0.016, food))
    return shapes


def table(x0: float, x1: float, top: float, ground: float, color: Color) -> list[Shape]:
    """A table in side view with a little perspective on its top."""
    depth = vec(0.05, -0.035)
    top_pts = np.array([(x0, top), (x1, top), (x1 + depth[0], top + depth[1]), (x0 + depth[0], top + depth[1])])
    legs = [Stroke(np.array([(x, top), (x, ground - 0.01)]), 0.03, shade(color, 0.7)) for x in (x0 + 0.03, x1 - 0.03)]
    back_leg = Stroke(
        np.array([(x1 - 0.03 + depth[0], top), (x1 - 0.03 + depth[0], ground - 0.03)]), 0.026, shade(color, 0.55)
    )
    front = Poly(box_pts(vec((x0 + x1) / 2, top + 0.018), x1 - x0, 0.036), shade(color, 0.8))
    return [back_leg, *legs, Poly(top_pts, color), front]


def chair(x_back: float, x_front: float, seat: float, ground: float, back_top: float, color: Color) -> list[Shape]:
    """A side-view chair: seat, backrest and two legs."""
    dark = shade(color, 0.75)
    return [
        Stroke(np.array([(x_back, seat), (x_back, ground - 0.012)]), 0.026, dark),
        Stroke(np.array([(x_front, seat), (x_front + 0.01, ground - 0.012)]), 0.026, dark),
        Stroke(np.array([(x_back - 0.005, seat), (x_back - 0.03, back_top)]), 0.032, color),
        Stroke(np.array([(x_back - 0.01, back_top + 0.02), (x_back - 0.03, back_top + 0.1)]), 0.06, color),
        Stroke(np.array([(x_back, seat), (x_front, seat)]), 0.036, color),
    ]


def bed(
    x0: float, x1: float, top: float, ground: float, frame: Color, sheet: Color, headboard_x: float | None
) -> list[Shape]:
    """A bed in side view (mattress, frame, legs, headboard at ``headboard_x``); a mat when it is None."""
    if headboard_x is None:
        return rounded_box(vec((x0 + x1) / 2, top + 0.018), x1 - x0, 0.036, sheet, r=0.012)
    shapes: list[Shape] = []
    shapes.append(Poly(box_pts(vec(headboard_x, (ground + top - 0.2) / 2), 0.045, ground - top + 0.2), frame))
    for x in (x0 + 0.04, x1 - 0.04):
        shapes.append(Stroke(np.array([(x, top + 0.1), (x, ground - 0.012)]), 0.03, shade(frame, 0.8)))
    shapes.append(Poly(box_pts(vec((x0 + x1) / 2, top + 0.12), x1 - x0 + 0.02, 0.05), frame))
    shapes += rounded_box(vec((x0 + x1) / 2, top + 0.05), x1 - x0, 0.1, sheet, r=0.02)
    return shapes


def pillow(center: Vec, color: Color) -> list[Shape]:
    return [Poly(ellipse_pts(center, 0.12, 0.048, n=20), color)]


def blanket(x0: float, x1: float, body_y: float, top: float, bottom: float, color: Color) -> list[Shape]:
    """A blanket over a lying body from ``x0`` to the foot end ``x1``, hanging down the mattress side to ``bottom``."""
    xs = np.linspace(x0, x1, 9)
    bump = -0.075 - 0.015 * np.sin(np.linspace(0, math.pi, 9))
    bump[-2:] -= 0.02  # the feet lift it
    top_edge = np.stack([xs, body_y + bump], axis=1)
    pts = np.vstack([top_edge, [(x1 + 0.02, top + 0.02), (x1 + 0.02, bottom), (x0, bottom)]])
    return [Poly(pts, color), Stroke(top_edge[:3], 0.03, shade(color, 1.25))]


def bicycle(
    rear: Vec,
    front: Vec,
    bb: Vec,
    seat: Vec,
    head_top: Vec,
    head_bot: Vec,
    bar: Vec,
    grip: Vec,
    crank: float,
    frame: Color,
    tyre: Color = DARK,
    r: float = 0.19,
    metal: Color = METAL,
) -> tuple[list[Shape], list[Shape], list[Shape], Vec, Vec]:
    """A side-view bicycle.

    Returns (far crank, main bike, near crank, near pedal, far pedal): the cranks
    are separate so legs can go between them and the frame.
    """
    main: list[Shape] = []
    for hub in (rear, front):
        main += wheel(hub, r, tyre, metal=metal)
    frame_w = 0.026
    for a, b in (
        (rear, bb),
        (rear, seat),
        (bb, seat),
        (seat + vec(0.0, 0.015), head_top),
        (bb, head_bot),
        (head_top, head_bot),
        (head_bot, front),
    ):
        main.append(Stroke(np.array([a, b]), frame_w, frame))
    main.append(Stroke(np.array([head_top, bar, grip]), 0.02, DARK))
    main.append(Stroke(np.array([seat, seat - vec(0.004, 0.035)]), 0.016, metal))
    saddle = np.array(
        [seat + vec(-0.055, -0.035), seat + vec(0.045, -0.045), seat + vec(0.05, -0.03), seat + vec(-0.05, -0.02)]
    )
    main.append(Poly(saddle, DARK))
    main.append(Stroke(saddle, 0.012, DARK, closed=True))
    main.append(Disc(bb, 0.042, metal, ring=0.012))
    d = direction(crank) * 0.085
    near_p, far_p = bb + d, bb - d

    def crank_shapes(p: Vec) -> list[Shape]:
        pedal = np.array([p - vec(0.025, 0), p + vec(0.025, 0)])
        return [Stroke(np.array([bb, p]), 0.018, metal), Stroke(pedal, 0.018, DARK)]

    return crank_shapes(far_p), main, crank_shapes(near_p), near_p, far_p


def wheel(hub: Vec, r: float, tyre: Color = DARK, spokes: int = 8, metal: Color = METAL) -> list[Shape]:
    """Tyre, rim, spokes and hub."""
    shapes: list[Shape] = [Disc(hub, r, tyre, ring=0.034), Disc(hub, r - 0.025, metal, ring=0.012)]
    for k in range(spokes):
        d = direction(k * 180.0 / spokes)
        shapes.append(Stroke(np.array([hub - d * (r - 0.025), hub + d * (r - 0.025)]), 0.009, metal))
    shapes.append(Disc(hub, 0.02, metal))
    return shapes


def laptop(
    front_x: float, hinge_x: float, top: float, lid: float, lid_angle: float, shell: Color, base: Color
) -> list[Shape]:
    """An open laptop on a surface at height ``top``: keyboard half towards -x, lid rising at the hinge."""
    depth = vec(0.045, -0.028)
    b0, b1 = vec(front_x, top), vec(hinge_x, top)
    base_pts = np.array([b0, b1, b1 + depth, b0 + depth])
    ld = direction(270.0 - lid_angle) * lid  # opening angle from the keyboard
    lid_pts = np.array([b1 - vec(0.004, 0.01), b1 + ld, b1 + ld + depth, b1 + depth - vec(0.004, 0.01)])
    return [
        Poly(base_pts, base),
        Stroke(base_pts, 0.014, base, closed=True),
        Poly(lid_pts, shell),
        Stroke(lid_pts, 0.012, shade(shell, 0.8), closed=True),
        Disc(b1 + ld * 0.55 + depth * 0.5, 0.013, shade(shell, 1.25)),
    ]


def laptop_closed(base: Vec, shell: Color) -> list[Shape]:
    x, y = base
    pts = np.array([(x - 0.1, y), (x + 0.08, y), (x + 0.12, y - 0.035), (x - 0.06, y - 0.035)])
    return [Poly(pts, shell), Stroke(pts, 0.014, shade(shell, 0.75), closed=True)]


def headphones(center: Vec, r: float, up: Vec, color: Color, cushion: Color) -> tuple[list[Shape], list[Vec]]:
    """Over-ear headphones seen from the front around a head of radius ``r``; returns shapes and cup centres."""
    up = up / np.linalg.norm(up)
    side = _side(up)
    t = np.radians(np.linspace(-84, 84, 16))
    band = center + 1.22 * r * (np.outer(np.cos(t), up) + np.outer(np.sin(t), side))
    cups = [center + s * side * r * 1.12 - up * r * 0.08 for s in (-1.0, 1.0)]
    shapes: list[Shape] = [Stroke(band, r * 0.38, color)]
    for s, c in zip((-1.0, 1.0), cups, strict=False):
        shapes.append(Poly(box_pts(c - s * side * r * 0.28, r * 0.22, r * 0.95, up), cushion))
        shapes += rounded_box(c + s * side * r * 0.06, r * 0.6, r * 1.15, color, up, r=r * 0.25)
    return outlined(shapes, 0.5), cups


def clap_marks(center: Vec, color: Color, spread: float = 0.07) -> list[Shape]:
    """Short burst lines either side of clapping hands."""
    shapes: list[Shape] = []
    for s in (-1.0, 1.0):
        for a in (-35.0, 0.0, 35.0):
            d = vec(s * math.cos(math.radians(a)), -math.sin(math.radians(a)))
            shapes.append(Stroke(np.array([center + d * spread, center + d * (spread + 0.04)]), 0.012, color))
    return shapes
