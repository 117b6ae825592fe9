"""One pose-and-props recipe per action, and the registry that maps names to recipes.

A recipe draws the action's figure(s) and props in a local frame (units of
standing height, y down) and flags which parts are the action's evidence: the
props that define it and the limbs that form the pose.  Where the group goes in
the picture, the background and the distractors are the scene's business.
The two-figure and seated actions live in :mod:`hartrace.synth.actions_more`, and
:mod:`hartrace.synth.recipes` maps every action's name to its recipe.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hartrace.synth import props
from hartrace.synth.draw import Part, Shape, direction, rotate, vec
from hartrace.synth.figure import HEAD_R, LEG_W, Body
from hartrace.synth.palette import Palette

ACTIONS: tuple[str, ...] = (
    "calling",
    "clapping",
    "cycling",
    "dancing",
    "drinking",
    "eating",
    "fighting",
    "hugging",
    "laughing",
    "listening_to_music",
    "running",
    "sitting",
    "sleeping",
    "texting",
    "using_laptop",
)

FOOT_PAD = LEG_W * 0.62 / 2 + 0.004  # ankle to sole


@dataclass
class Ctx:
    """Randomness and colours for one recipe."""

    rng: np.random.Generator
    pal: Palette

    def u(self, a: float, b: float) -> float:
        return float(self.rng.uniform(a, b))

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def pick(self, *options: str) -> str:
        return options[int(self.rng.integers(len(options)))]

    def body(self, **kw) -> Body:
        return Body(self.pal.look(), self.rng, **kw)


@dataclass
class Group:
    """An action's parts in drawing order (local frame) and the floor height under it."""

    parts: list[Part]
    ground: float


def prop(name: str, shapes: list[Shape], evidence: bool = True) -> Part:
    return Part(name, "prop", evidence, shapes)


def ground_of(*bodies: Body) -> float:
    """Floor height under the lowest foot of ``bodies`` (group frame)."""
    ys = []
    for b in bodies:
        b.stand()
        for leg in b.legs.values():
            ys.append(b.g(leg.end)[1] + FOOT_PAD * b.place.scale)
    return max(ys)


def standing_legs(ctx: Ctx, b: Body) -> None:
    """Ordinary standing or mid-step legs, so the upper body carries the action."""
    kind = ctx.pick("stand", "wide", "step") if b.view == "side" else ctx.pick("stand", "wide")
    if kind == "stand":
        b.stand(ctx.u(2, 8))
    elif kind == "wide":
        b.stand(ctx.u(10, 18))
    else:
        b.leg("near", angles=(ctx.u(8, 18), ctx.u(0, 6)))
        b.leg("far", angles=(-ctx.u(8, 16), -ctx.u(2, 12)))


def free_arm(ctx: Ctx, b: Body, which: str) -> None:
    """An arm the action does not use: hanging, or hand on the hip."""
    if ctx.chance(0.35):
        if b.view == "side":
            b.arm(which, target=b.torso_point(0.22, -0.2), hint=(-1.0, 0.2))
        else:
            s = 1.0 if which == "near" else -1.0
            b.arm(which, target=b.torso_point(0.2) + b.fwd * s * 0.09, hint=(s, 0.1))


def in_hand(b: Body, held: Part, evidence: tuple[str, ...]) -> list[Part]:
    """``b``'s parts in default order with ``held`` drawn just under the near arm, so the hand grips it."""
    parts = b.ordered(b.parts(evidence=evidence))
    parts.insert(len(parts) - 1, held)
    return parts


# --- standing single-figure actions ----------------------------------------------------------


def calling(ctx: Ctx) -> Group:
    b = ctx.body(view="side", lean=ctx.u(-3, 5), tilt=ctx.u(-10, 8))
    standing_legs(ctx, b)
    ear, mouth = b.ear_point(), b.mouth_point()
    up = (ear - mouth) / np.linalg.norm(ear - mouth)
    up = rotate(up, ctx.u(-10, 10))
    center = ear * 0.6 + mouth * 0.4 + up * 0.012 + b.head_fwd * 0.004
    b.arm("near", target=center - up * 0.05, hint=(1.0, 0.7), jitter=False)  # holds the lower end
    free_arm(ctx, b, "far")
    ph = prop(
        "phone", props.phone(center, up, ctx.pal.choice(PHONES), ctx.pal.choice(SCREENS), length=0.13, width=0.062)
    )
    return Group(in_hand(b, ph, ("head", "arm_near")), ground_of(b))


def texting(ctx: Ctx) -> Group:
    b = ctx.body(view="side", lean=ctx.u(0, 9), tilt=ctx.u(28, 42))
    standing_legs(ctx, b)
    hold = b.torso_point(ctx.u(0.6, 0.75), 1.0) + b.fwd * ctx.u(0.09, 0.13)
    up = direction(ctx.u(125, 150))
    b.arm("far", target=hold - up * 0.015 - b.fwd * 0.012, hint=(-0.3, 1.0))
    b.arm("near", target=hold - up * 0.03 + b.fwd * 0.004, hint=(-0.3, 1.0))
    ph = prop("phone", props.phone(hold, up, ctx.pal.choice(PHONES), ctx.pal.choice(SCREENS)))
    return Group(in_hand(b, ph, ("head", "arm_near", "arm_far")), ground_of(b))


def drinking(ctx: Ctx) -> Group:
    b = ctx.body(view="side", lean=ctx.u(-7, 2), tilt=ctx.u(-24, -8))
    standing_legs(ctx, b)
    m = b.mouth_point()
    up = direction(180.0 + ctx.u(65, 100))  # rim towards the mouth, bottom raised
    glass = ctx.chance(0.35)
    h = 0.1 if glass else 0.088
    center = m + b.head_fwd * 0.012 - up * (h / 2 + 0.004)
    color = ctx.pal.choice(GLASS) if glass else ctx.pal.color(s=(0.3, 0.9), v=(0.5, 1.0))
    shapes, grip = props.cup(
        center,
        up,
        color,
        handle=-1,
        glass=glass,
        liquid=ctx.pal.choice(DRINKS),
    )
    b.arm("near", target=grip if not glass else center + vec(0.0, 0.02), hint=(0.3, 1.0), jitter=False)
    free_arm(ctx, b, "far")
    return Group(in_hand(b, prop("cup", shapes), ("head", "arm_near")), ground_of(b))


def clapping(ctx: Ctx) -> Group:
    b = ctx.body(view="front", lean=ctx.u(-4, 4), tilt=ctx.u(-6, 6))
    standing_legs(ctx, b)
    b.mouth = ctx.pick("smile", "open", "smile")
    high = ctx.chance(0.3)
    c = b.head_point(0.0, -2.1) if high else b.torso_point(ctx.u(0.62, 0.78))
    c = c + vec(ctx.u(-0.02, 0.02), 0.0)
    for which, s in (("near", 1.0), ("far", -1.0)):
        b.arm(which, target=c + vec(s * 0.018, 0.012), hint=(s, 0.5 if not high else 0.9), jitter=False)
    marks = prop("clap_marks", props.clap_marks(c - vec(0.0, 0.01), ctx.pal.color(s=(0.6, 1.0), v=(0.6, 1.0))))
    parts = b.ordered(b.parts(evidence=("arm_near", "arm_far")))
    return Group(parts + [marks], ground_of(b))


def dancing(ctx: Ctx) -> Group:
    b = ctx.body(view="front", lean=ctx.u(-12, 12), tilt=ctx.u(-14, 14))
    b.mouth = "smile"
    style = ctx.pick("v", "one_up", "disco")
    if style == "v":
        b.arm("near", angles=(ctx.u(135, 155), ctx.u(150, 175)))
        b.arm("far", angles=(-ctx.u(135, 155), -ctx.u(150, 175)))
    elif style == "one_up":
        b.arm("near", angles=(ctx.u(140, 165), ctx.u(160, 180)))
        b.arm("far", angles=(-ctx.u(80, 100), -ctx.u(120, 160)))
    else:
        b.arm("near", angles=(ctx.u(95, 115), ctx.u(150, 175)))
        b.arm("far", angles=(-ctx.u(55, 80), -ctx.u(15, 40)))
    lift, stand = ("near", "far") if ctx.chance(0.5) else ("far", "near")
    s = 1.0 if lift == "near" else -1.0
    if ctx.chance(0.6):  # knee up and out
        b.leg(lift, angles=(s * ctx.u(65, 90), s * ctx.u(-10, 15)))
    else:  # kick out to the side
        b.leg(lift, angles=(s * ctx.u(45, 65), s * ctx.u(55, 75)))
    b.leg(stand, angles=(-s * ctx.u(2, 10), -s * ctx.u(0, 5)))
    return Group(b.ordered(b.parts(evidence=("arm_near", "arm_far", "leg_near", "leg_far"))), ground_of(b))


def running(ctx: Ctx) -> Group:
    b = ctx.body(view="side", lean=ctx.u(12, 22), tilt=ctx.u(-12, 0))
    front, back = ("near", "far") if ctx.chance(0.5) else ("far", "near")
    t = ctx.u(55, 80)
    b.leg(front, angles=(t, t - ctx.u(75, 100)))
    t = -ctx.u(25, 42)
    b.leg(back, angles=(t, t - ctx.u(45, 70)))
    up = ctx.u(40, 65)
    b.arm(back, angles=(up, up + ctx.u(75, 100)))  # arm opposite the back leg swings forward
    down = -ctx.u(40, 60)
    b.arm(front, angles=(down, down + ctx.u(60, 90)))
    for which in ("near", "far"):
        b.fists.add(which)
    ground = ground_of(b) + ctx.u(0.02, 0.07)  # in the air between strides
    return Group(b.ordered(b.parts(evidence=("arm_near", "arm_far", "leg_near", "leg_far", "torso"))), ground)


def laughing(ctx: Ctx) -> Group:
    b = ctx.body(view="side", lean=ctx.u(-14, -5), tilt=ctx.u(-40, -26))
    standing_legs(ctx, b)
    b.mouth, b.eyes = "open", ctx.pick("closed", "closed", "open")
    belly = b.torso_point(ctx.u(0.25, 0.4), 1.3)
    b.arm("near", target=belly, hint=(-0.2, 1.0))
    if ctx.chance(0.7):
        b.arm("far", target=belly + vec(-0.01, -0.03), hint=(-0.2, 1.0))
    else:
        free_arm(ctx, b, "far")
    return Group(b.ordered(b.parts(evidence=("head", "arm_near", "arm_far"))), ground_of(b))


def listening_to_music(ctx: Ctx) -> Group:
    b = ctx.body(view="front", lean=ctx.u(-7, 7), tilt=ctx.u(-14, 14))
    standing_legs(ctx, b)
    b.eyes = ctx.pick("open", "closed")
    b.mouth = ctx.pick("smile", "closed")
    lk = b.look
    color = ctx.pal.color(s=(0.6, 1.0), v=(0.45, 1.0), extra=[lk.hair, lk.skin, lk.shirt])
    shapes, cups = props.headphones(b.head, HEAD_R, b.head_up, color, ctx.pal.choice(CUSHIONS))
    evidence = ["head"]
    touch = ctx.pick("one", "both", "none")
    if touch != "none":
        hands = [("near", cups[1], 1.0)] if touch == "one" else [("near", cups[1], 1.0), ("far", cups[0], -1.0)]
        for which, cup, s in hands:
            b.arm(which, target=cup + vec(s * 0.035, 0.03), hint=(s, 0.6))
            evidence.append("arm_" + which)
    for which in ("near", "far"):
        if which not in b.arms:
            free_arm(ctx, b, which)
    parts = b.ordered(b.parts(evidence=tuple(evidence)))
    parts.insert(4, prop("headphones", shapes))  # over the head, under the hands
    return Group(parts, ground_of(b))


PHONES = [(28, 28, 32), (235, 235, 240), (40, 70, 160), (170, 30, 40)]
SCREENS = [(120, 200, 255), (170, 230, 250), (90, 160, 230), (200, 240, 210)]
GLASS = [(200, 225, 240), (170, 210, 220), (215, 235, 215)]
DRINKS = [(110, 60, 30), (230, 140, 30), (200, 40, 60), (240, 240, 230)]
CUSHIONS = [(40, 40, 40), (200, 200, 200), (120, 40, 40)]


__all__ = ["ACTIONS", "Ctx", "Group"]
