"""Recipes with furniture, vehicles or two people: sitting, eating, using_laptop, sleeping,
cycling, hugging and fighting (see :mod:`hartrace.synth.actions` for the conventions)."""

from __future__ import annotations

import numpy as np

from hartrace.synth import props
from hartrace.synth.actions import FOOT_PAD, Ctx, Group, ground_of, prop, standing_legs
from hartrace.synth.draw import Part, Shape, Similarity, Stroke, direction, rounded_box, shade, vec
from hartrace.synth.figure import Body

WOODS = [(150, 100, 60), (110, 70, 40), (190, 150, 100), (90, 90, 95), (200, 200, 205), (60, 40, 30)]
FOODS = [(90, 170, 60), (235, 140, 40), (150, 80, 40), (240, 220, 120), (210, 50, 40), (250, 250, 240)]
PLATES = [(250, 250, 250), (240, 235, 215), (200, 225, 245), (245, 215, 215)]
SHELLS = [(190, 192, 198), (40, 40, 45), (120, 125, 135), (230, 230, 235)]  # laptops
CUTLERY = [(190, 190, 200), (150, 150, 160), (230, 200, 90)]
SEAT_Y = 0.068 + 0.018  # centre line of a seat under a seated pelvis


def seated(ctx: Ctx, b: Body, *, furniture: str = "chair") -> tuple[Part, float]:
    """Bend ``b`` into a seated pose and build what it sits on; returns (seat part, floor height)."""
    b.leg("near", angles=(ctx.u(82, 98), ctx.u(-6, 14)))
    b.leg("far", angles=(ctx.u(78, 94), ctx.u(-10, 10)))
    ground = ground_of(b)
    return Part(furniture, "prop", False, seat_shapes(ctx, furniture, ground)), ground


def seat_shapes(ctx: Ctx, furniture: str, ground: float) -> list[Shape]:
    """A chair, sofa or stool (``furniture``) whose seat is at :data:`SEAT_Y` and feet at ``ground``."""
    color = ctx.pal.choice(WOODS)
    if furniture == "sofa":
        shapes = (
            rounded_box(vec(-0.1, -0.12), 0.12, 0.42, shade(color, 0.85), r=0.04)
            + rounded_box(vec(0.02, SEAT_Y + 0.04), 0.32, 0.1, color, r=0.03)
            + [Stroke(np.array([(-0.12, ground - 0.02), (0.16, ground - 0.02)]), 0.035, shade(color, 0.6))]
        )
        # legs of the seat block down to the floor
        shapes += rounded_box(
            vec(0.02, (SEAT_Y + 0.09 + ground) / 2), 0.3, max(ground - SEAT_Y - 0.09, 0.02), shade(color, 0.7), r=0.01
        )
        return shapes
    if furniture == "stool":
        return [
            Stroke(np.array([(-0.02, SEAT_Y), (0.0, ground - 0.012)]), 0.03, shade(color, 0.75)),
            Stroke(np.array([(-0.08, ground - 0.012), (0.08, ground - 0.012)]), 0.026, shade(color, 0.75)),
            Stroke(np.array([(-0.11, SEAT_Y), (0.1, SEAT_Y)]), 0.04, color),
        ]
    return props.chair(-0.1, 0.12, SEAT_Y, ground, -ctx.u(0.28, 0.36), color)


def _table(ctx: Ctx, x0: float, top: float, ground: float) -> Part:
    return prop("table", props.table(x0, x0 + ctx.u(0.42, 0.56), top, ground, ctx.pal.choice(WOODS)), evidence=False)


def sitting(ctx: Ctx) -> Group:
    b = ctx.body(view="side", lean=ctx.u(-9, 6), tilt=ctx.u(-6, 10))
    seat, ground = seated(ctx, b, furniture=ctx.pick("chair", "chair", "sofa", "stool"))
    seat.evidence = True
    if ctx.chance(0.7):  # hands resting on the thighs
        b.arm("near", target=(ctx.u(0.13, 0.2), -0.045), hint=(-0.3, 1.0))
        b.arm("far", target=(ctx.u(0.1, 0.17), -0.05), hint=(-0.3, 1.0))
    else:
        b.arm("near", angles=(ctx.u(0, 15), ctx.u(30, 60)))
    parts = b.ordered(b.parts(evidence=("torso", "leg_near", "leg_far")))
    return Group([seat] + parts, ground)


def eating(ctx: Ctx) -> Group:
    b = ctx.body(view="side", lean=ctx.u(0, 12), tilt=ctx.u(-2, 12))
    seat, ground = seated(ctx, b, furniture=ctx.pick("chair", "stool"))
    top, x0 = -ctx.u(0.1, 0.13), ctx.u(0.18, 0.22)
    table = _table(ctx, x0, top, ground)
    pc = vec(x0 + ctx.u(0.11, 0.17), top - 0.012)
    food = [ctx.pal.choice(FOODS) for _ in range(int(ctx.rng.integers(2, 4)))]
    plate = prop("plate", props.plate(pc, ctx.pal.choice(PLATES), food))
    tip = b.mouth_point() + b.head_fwd * 0.004
    hand = b.arm("near", target=tip + direction(ctx.u(40, 70)) * 0.08, hint=(0.2, 1.0), jitter=False)
    b.arm("far", target=(pc[0] - ctx.u(0.05, 0.09), top - 0.02), hint=(0.0, 1.0))
    tool = prop(
        "utensil",
        props.utensil(
            hand,
            tip,
            ctx.pal.choice(CUTLERY),
            ctx.pal.choice(FOODS),
            spoon=ctx.chance(0.4),
        ),
    )
    parts = b.ordered(b.parts(evidence=("head", "arm_near")))
    parts.insert(5, tool)
    return Group([seat, table, plate] + parts, ground)


def using_laptop(ctx: Ctx) -> Group:
    standing = ctx.chance(0.25)
    b = ctx.body(view="side", lean=ctx.u(4, 14) if standing else ctx.u(0, 10), tilt=ctx.u(10, 24))
    if standing:
        standing_legs(ctx, b)
        ground = ground_of(b)
        top, x0, under = -ctx.u(0.07, 0.1), ctx.u(0.13, 0.17), []
    else:
        seat, ground = seated(ctx, b, furniture=ctx.pick("chair", "stool", "sofa"))
        top, x0, under = -ctx.u(0.1, 0.13), ctx.u(0.18, 0.22), [seat]
    front = x0 + ctx.u(0.01, 0.04)
    shell = ctx.pal.choice(SHELLS)
    lap = prop(
        "laptop",
        props.laptop(front, front + 0.16, top - 0.012, ctx.u(0.14, 0.16), ctx.u(98, 118), shell, shade(shell, 0.6)),
    )
    b.arm("near", target=(front + ctx.u(0.04, 0.08), top - 0.03), hint=(0.0, 1.0))
    b.arm("far", target=(front + ctx.u(0.07, 0.11), top - 0.035), hint=(0.0, 1.0))
    parts = b.ordered(b.parts(evidence=("head", "arm_near", "arm_far")))
    return Group(under + [_table(ctx, x0, top, ground), lap] + parts, ground)


def sleeping(ctx: Ctx) -> Group:
    b = ctx.body(view="side", lean=-90.0 + ctx.u(-3, 3), tilt=ctx.u(-10, 10), jitter=3.0)
    b.eyes = "closed"
    if ctx.chance(0.35):  # knees drawn up
        b.leg("near", angles=(ctx.u(62, 78), ctx.u(100, 118)))
        b.leg("far", angles=(ctx.u(78, 88), ctx.u(92, 102)))
    else:
        b.leg("near", angles=(ctx.u(86, 94), ctx.u(86, 94)))
        b.leg("far", angles=(ctx.u(86, 94), ctx.u(86, 94)))
    style = ctx.pick("side", "chest", "head")
    if style == "chest":
        b.arm("near", target=b.torso_point(ctx.u(0.4, 0.6), 1.1), hint=(-1.0, 0.3))
    elif style == "head":
        b.arm("near", target=b.head_point(-1.0, 0.3), hint=(1.0, -1.0))
    else:
        b.arm("near", angles=(ctx.u(80, 92), ctx.u(84, 96)))
    b.arm("far", angles=(ctx.u(84, 96), ctx.u(86, 98)))
    bed, ground, bottom = bed_shapes(ctx)
    parts = [prop("bed", bed), prop("pillow", props.pillow(vec(-0.44, 0.028), ctx.pal.choice(PLATES)))]
    parts += b.ordered(b.parts(evidence=("head", "torso", "arm_near", "arm_far", "leg_near", "leg_far")))
    if ctx.chance(0.5):
        parts.append(prop("blanket", blanket_shapes(ctx, bottom)))
    return Group(parts, ground)


BED_TOP, BED_X = 0.062, (-0.6, 0.62)  # mattress top (a lying body's back at y = 0) and ends


def bed_shapes(ctx: Ctx) -> tuple[list[Shape], float, float]:
    """A bed with a headboard, or a mat on the floor: (shapes, floor height, lowest edge a blanket hangs to)."""
    top, (x0, x1) = BED_TOP, BED_X
    frame, sheet = ctx.pal.choice(WOODS), ctx.pal.color(s=(0.1, 0.5), v=(0.6, 1.0))
    if ctx.chance(0.72):
        ground, bottom = top + 0.26, top + 0.1
        return props.bed(x0, x1, top, ground, frame, sheet, x0 - 0.02), ground, bottom
    ground = top + 0.036
    return props.bed(x0 + 0.02, x1, top, ground, frame, sheet, None), ground, ground


def blanket_shapes(ctx: Ctx, bottom: float) -> list[Shape]:
    """A blanket over a body lying on the bed, hanging down to ``bottom``."""
    return props.blanket(ctx.u(-0.22, 0.02), BED_X[1] - 0.02, 0.0, BED_TOP, bottom, ctx.pal.color(v=(0.4, 0.9)))


def cycling(ctx: Ctx) -> Group:
    lean = ctx.u(28, 46)
    b = ctx.body(view="side", lean=lean, tilt=-0.6 * lean)  # looks ahead, not at the ground
    j = lambda: ctx.u(-0.01, 0.01)  # noqa: E731
    bb = vec(0.10 + j(), 0.36 + j())
    rear, front = vec(-0.15 + j(), 0.33), vec(0.47 + j(), 0.33)
    seat, head_top, head_bot = vec(0.0, 0.09), vec(0.37, 0.08 + j()), vec(0.40, 0.17)
    bar, grip = vec(0.35, 0.0 + j()), vec(0.30, 0.006)
    far_c, main, near_c, near_p, far_p = props.bicycle(
        rear,
        front,
        bb,
        seat,
        head_top,
        head_bot,
        bar,
        grip,
        ctx.u(0, 360),
        ctx.pal.color(s=(0.5, 1.0), v=(0.3, 0.95)),
        metal=ctx.pal.choice(props.METALS),
    )
    for which, p in (("near", near_p), ("far", far_p)):
        b.leg(which, target=p + vec(-0.02, -0.03), hint=(1.0, -0.4))
        b.arm(which, target=grip + vec(0.0, 0.004), hint=(0.0, 1.0))
    fp = b.parts(evidence=("arm_near", "arm_far", "leg_near", "leg_far"))
    parts = [
        prop("bike_far", far_c),
        fp["leg_far"],
        fp["arm_far"],
        prop("bicycle", main),
        fp["torso"],
        fp["head"],
        prop("bike_near", near_c),
        fp["leg_near"],
        fp["arm_near"],
    ]
    return Group(parts, 0.33 + 0.19 + 0.018)


def land(b: Body, ground: float) -> None:
    """Move ``b`` (keeping its x, scale and facing) so its lowest sole touches ``ground``."""
    lowest = max(leg.end[1] for leg in b.legs.values()) + FOOT_PAD
    p = b.place
    b.place = Similarity(p.scale, (p.origin[0], ground - p.scale * lowest), p.flip)


def _pair(ctx: Ctx, gap: float, **kw) -> tuple[Body, Body]:
    """Two figures facing each other ``2 * gap`` apart; the second a little smaller or larger."""
    k = ctx.u(0.85, 1.0)
    ka, kb = (1.0, k) if ctx.chance(0.5) else (k, 1.0)
    a = ctx.body(view="side", place=Similarity(ka, (-gap, 0.0), 1), **kw.get("a", {}))
    b = ctx.body(view="side", place=Similarity(kb, (gap, 0.0), -1), **kw.get("b", {}))
    return a, b


def hugging(ctx: Ctx) -> Group:
    a, b = _pair(
        ctx,
        0.075 + ctx.u(-0.005, 0.012),
        a=dict(lean=ctx.u(3, 10), tilt=ctx.u(6, 20)),
        b=dict(lean=ctx.u(3, 10), tilt=ctx.u(6, 20)),
    )
    for body in (a, b):
        body.stand(ctx.u(2, 10))
        land(body, 0.5)
    high = ctx.chance(0.5)
    for me, other, hi in ((a, b, high), (b, a, not high)):
        back = other.torso_point(ctx.u(0.72, 0.88) if hi else ctx.u(0.4, 0.55), -1.15)
        me.arm("near", target=me.place.inverse_point(other.g(back)), hint=(0.0, 1.0))
        back = other.torso_point(0.62, -1.0)
        me.arm("far", target=me.place.inverse_point(other.g(back)), hint=(0.0, 1.0))
    ev = ("arm_near", "arm_far", "torso")
    pa, pb = a.parts("a_", ev), b.parts("b_", ev)
    order = [
        pa["arm_far"],
        pb["arm_far"],
        pa["leg_far"],
        pb["leg_far"],
        pa["torso"],
        pa["leg_near"],
        pb["torso"],
        pb["leg_near"],
        pa["head"],
        pb["head"],
        pa["arm_near"],
        pb["arm_near"],
    ]
    return Group(order, 0.5)


def fighting(ctx: Ctx) -> Group:
    kick = ctx.chance(0.7)
    a, b = _pair(
        ctx,
        ctx.u(0.32, 0.4),
        a=dict(lean=ctx.u(4, 12), tilt=ctx.u(-6, 6)),
        b=dict(lean=-ctx.u(8, 20) if kick else ctx.u(4, 12), tilt=ctx.u(-6, 6)),
    )
    a.leg("near", angles=(ctx.u(15, 28), ctx.u(0, 12)))
    a.leg("far", angles=(-ctx.u(15, 28), -ctx.u(5, 15)))
    b_ev = ["arm_near", "arm_far"]
    if kick:
        t = ctx.u(70, 95)
        b.leg("near", angles=(t, t + ctx.u(-5, 15)))
        b.leg("far", angles=(-ctx.u(2, 10), -ctx.u(0, 5)))
        b_ev.append("leg_near")
        b.arm("near", target=b.head_point(1.8, -1.3), hint=(0.0, 1.0), fist=True)
        b.arm("far", target=b.head_point(1.3, -0.7), hint=(0.0, 1.0), fist=True)
    else:
        b.leg("near", angles=(ctx.u(15, 28), ctx.u(0, 12)))
        b.leg("far", angles=(-ctx.u(15, 28), -ctx.u(5, 15)))
    land(a, 0.5)
    land(b, 0.5)
    for me, other, punch in ((a, b, True), (b, a, not kick)):
        if not punch:
            continue
        sh = me.shoulders["near"]
        target = other.head_point(0.0, -0.8) if me is a else other.torso_point(0.75)  # arms pass, not collide
        aim = me.place.inverse_point(other.g(target))
        me.arm("near", target=sh + (aim - sh) / np.linalg.norm(aim - sh) * 0.34, hint=(0.0, 1.0), fist=True)
        me.arm("far", target=me.head_point(1.6, -1.1), hint=(0.0, 1.0), fist=True)
    pa, pb = a.parts("a_", ("arm_near", "arm_far")), b.parts("b_", tuple(b_ev))
    return Group(a.ordered(pa) + b.ordered(pb), 0.5)
