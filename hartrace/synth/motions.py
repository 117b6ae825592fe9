"""Motion recipes of the synthetic video set: one action's pose as a function of time.

A recipe samples everything random about one performance once (who, which
limb, how far, how fast, when) and returns a :class:`Motion` whose ``pose(u)``
draws the action at clip time ``u`` in [0, 1] as a
:class:`~hartrace.synth.actions.Group` in the figure's local frame (see
:mod:`hartrace.synth.figure`).  Figures are built without per-pose jitter, so a
limb moves smoothly from frame to frame.

The classes come in pairs whose single frames look alike: a raised arm is held
at an angle a wave swings through, a lifted knee is the chambered kick, a squat
is the crouch of a jump, and standing up is sitting down played backwards (the
same recipe, time reversed).  Only the motion tells them apart.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from hartrace.synth import props
from hartrace.synth.actions import FOOT_PAD, Ctx, Group, ground_of
from hartrace.synth.actions_more import SEAT_Y, WOODS
from hartrace.synth.draw import Part, direction, vec
from hartrace.synth.figure import SHIN, THIGH, Body, Look

VIDEO_ACTIONS: tuple[str, ...] = (
    "WaveArm",
    "RaiseArm",
    "WaveBothArms",
    "RaiseBothArms",
    "Jump",
    "Squat",
    "SitDown",
    "StandUp",
    "KickLeg",
    "RaiseLeg",
    "ClapHands",
    "Punch",
)

Pose = Callable[[float], Group]
Pair = tuple[float, float]
TAU = 2.0 * math.pi
WHOLE_BODY = ("head", "torso", "arm_near", "arm_far", "leg_near", "leg_far")
LEG_REACH = 0.452  # pelvis to ankle of a standing leg: just short of THIGH + SHIN, so the knee stays defined

_STILL = np.random.default_rng(0)  # Body draws its jitter from a generator; with jitter 0 every draw is 0


@dataclass(frozen=True)
class Motion:
    """A sampled performance: ``pose(u)`` draws it at clip time ``u``; ``reverse`` plays the clip backwards."""

    pose: Pose
    reverse: bool = False


# --- timing -------------------------------------------------------------------------------


def _ease(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3.0 - 2.0 * x)


def _ramp(u: float, start: float, length: float) -> float:
    """0 before ``start``, eased up to 1 over ``length``, 1 after."""
    return _ease((u - start) / length) if length > 0 else float(u >= start)


def _keyed(p: float, keys: Sequence[tuple[float, object]]):
    """Eased interpolation through ``(time, value)`` keys (floats or arrays), held outside them."""
    if p <= keys[0][0]:
        return keys[0][1]
    for (t0, v0), (t1, v1) in zip(keys, keys[1:], strict=False):
        if p < t1:
            return v0 + (v1 - v0) * _ease((p - t0) / (t1 - t0))  # type: ignore[operator]
    return keys[-1][1]


def _cycles(ctx: Ctx, lo: float, hi: float, frames: int) -> float:
    """How many repetitions fit in the clip, keeping at least four frames per repetition."""
    top = max(1.0, min(hi, (frames - 1) / 4.0))
    return ctx.u(min(lo, top), top)


def _window(ctx: Ctx, lo: float, hi: float) -> tuple[float, float]:
    """A random (start, length) inside the clip, ``length`` between ``lo`` and ``hi``."""
    length = ctx.u(lo, hi)
    return ctx.u(0.0, 1.0 - length), length


# --- the figure -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Figure:
    """What stays fixed over a clip: look, view, posture and stance."""

    look: Look
    view: str
    lean: float
    tilt: float
    stance: dict[str, Pair]
    mouth: str = "closed"

    def body(self, *, lean: float = 0.0, pelvis: Pair = (0.0, 0.0)) -> Body:
        b = Body(self.look, _STILL, view=self.view, lean=self.lean + lean, tilt=self.tilt, pelvis=pelvis, jitter=0.0)
        b.mouth = self.mouth
        return b

    def stand(self, b: Body) -> Body:
        for which, angles in self.stance.items():
            if which not in b.legs:
                b.leg(which, angles=angles)
        return b

    def ground(self) -> float:
        return ground_of(self.stand(self.body()))


def _figure(ctx: Ctx, view: str, lean: Pair, tilt: Pair, *, mouth: str = "closed") -> _Figure:
    """A look, a posture, and feet a little apart (wider in front view)."""
    look = ctx.pal.look()
    a = ctx.u(1, 4) if view == "side" else ctx.u(1, 9)
    return _Figure(look, view, ctx.u(*lean), ctx.u(*tilt), {"near": (a, a * 0.6), "far": (-a, -a * 0.6)}, mouth)


def _arm_style(ctx: Ctx) -> str:
    return ctx.pick("hang", "hang", "guard", "out")


def _side_arms(b: Body, style: str, out: Pair, skip: tuple[str, ...] = ()) -> None:
    """Arms an action leaves free in side view: hanging, fists up in guard, or held out for balance."""
    for which in ("near", "far"):
        if which in skip:
            continue
        if style == "guard":
            b.arm(
                which,
                target=b.head_point(1.6, -1.1) if which == "near" else b.head_point(1.3, -0.7),
                hint=(0.0, 1.0),
                fist=True,
            )
        elif style == "out":
            b.arm(which, angles=(out[0] - (12.0 if which == "far" else 0.0), out[1]))


# --- arms: wave and raise -------------------------------------------------------------------


def _arm_lift(ctx: Ctx, frames: int, *, wave: bool, both: bool) -> Motion:
    """Arm(s) up beside the head; a wave swings the forearm, a raise holds one angle the wave passes through."""
    fig = _figure(ctx, "front", (-4, 4), (-6, 6), mouth=ctx.pick("closed", "smile"))
    ground = fig.ground()
    arms = ("near", "far") if both else (ctx.pick("near", "far"),)
    upper, centre, amp = ctx.u(100, 150), ctx.u(165, 190), ctx.u(22, 38)
    hang = (ctx.u(8, 16), ctx.u(4, 10))
    rises = not wave or ctx.chance(0.5)
    start, length = (ctx.u(0.0, 0.25), ctx.u(0.12, 0.3)) if rises else (0.0, 0.0)
    held = centre + amp * math.sin(ctx.u(0, TAU))
    cycles, phase, sway = _cycles(ctx, 1.5, 3.5, frames), ctx.u(0, TAU), ctx.u(0, TAU)
    opposite = ctx.chance(0.5)  # both arms: mirror images, or swinging the same way
    on_hip = not both and ctx.chance(0.3)
    evidence = tuple("arm_" + a for a in arms)

    def pose(u: float) -> Group:
        b = fig.stand(fig.body())
        r = _ramp(u, start, length)
        for which in arms:
            s = 1.0 if which == "near" else -1.0
            if wave:
                ph = phase + (math.pi if which == "far" and opposite else 0.0)
                fore = centre + amp * math.sin(TAU * cycles * u + ph) * r * r
            else:
                fore = held + 2.0 * math.sin(TAU * u + sway)
            up = upper + 2.5 * math.sin(TAU * 0.7 * u + sway)
            b.arm(which, angles=(s * (hang[0] + (up - hang[0]) * r), s * (hang[1] + (fore - hang[1]) * r)))
        if on_hip:
            other = "far" if arms[0] == "near" else "near"
            s = 1.0 if other == "near" else -1.0
            b.arm(other, target=b.torso_point(0.2) + b.fwd * s * 0.09, hint=(s, 0.1))
        return Group(b.ordered(b.parts(evidence=evidence)), ground)

    return Motion(pose)


# --- legs: jump, squat, kick, raise ---------------------------------------------------------


@dataclass(frozen=True)
class _Crouch:
    """A side-view figure whose feet stay planted while the pelvis drops back and the torso leans in."""

    fig: _Figure
    feet: dict[str, float]  # ankle x per leg
    drop: float  # pelvis drop of the deepest crouch
    bow: float  # torso lean of the deepest crouch

    def body(self, d: float, air: float = 0.0, height: float = 0.0) -> Body:
        """Crouched ``d`` (0..1), or ``air`` (0..1) of the way up a jump of ``height``."""
        drop = d * self.drop
        b = self.fig.body(lean=d * self.bow, pelvis=(-0.45 * drop, drop - height * air))
        for which, x in self.feet.items():
            b.leg(which, target=(x - 0.03 * air, LEG_REACH - height * air - 0.07 * air), hint=(1.0, 0.0))
        return b

    @property
    def ground(self) -> float:
        return LEG_REACH + FOOT_PAD


def _crouch(ctx: Ctx) -> _Crouch:
    fig = _figure(ctx, "side", (-2, 4), (-6, 6))
    return _Crouch(fig, {"near": ctx.u(-0.01, 0.04), "far": ctx.u(-0.05, 0.0)}, ctx.u(0.12, 0.17), ctx.u(22, 38))


def jump(ctx: Ctx, frames: int) -> Motion:
    """Crouch, swing the arms, take off, fly, land in a crouch and straighten; once or twice."""
    cr = _crouch(ctx)
    n = 2 if frames >= 16 and ctx.chance(0.4) else 1
    start, span = _window(ctx, 0.75, 0.98)
    height, land = ctx.u(0.12, 0.25), ctx.u(0.3, 0.7)
    swing = ctx.chance(0.7)
    depth = [(0.0, 0.0), (0.3, 1.0), (0.4, 0.0), (0.75, 0.0), (0.86, land), (1.0, 0.0)]
    arms = [(0.0, 0.0), (0.3, -1.0), (0.42, 1.0), (0.75, 0.3), (0.86, 0.1), (1.0, 0.0)]

    def pose(u: float) -> Group:
        p = (u - start) / span * n
        p = p - math.floor(p) if 0.0 <= p < n else 0.0
        air = math.sin(math.pi * (p - 0.4) / 0.35) if 0.4 < p < 0.75 else 0.0
        b = cr.body(float(_keyed(p, depth)), air, height)
        if swing:
            a = float(_keyed(p, arms))
            up = 12.0 + (a * 125.0 if a > 0 else a * 55.0)
            for which, k in (("near", 0.0), ("far", -10.0)):
                b.arm(which, angles=(up + k, up + k + 20.0))
        return Group(b.ordered(b.parts(evidence=("leg_near", "leg_far"))), cr.ground)

    return Motion(pose)


def squat(ctx: Ctx, frames: int) -> Motion:
    """Knees bend down and back up with the feet on the floor, once or twice, maybe holding at the bottom."""
    cr = _crouch(ctx)
    n = 2 if frames >= 16 and ctx.chance(0.5) else 1
    start, span = _window(ctx, 0.6, 0.95)
    depth, hold = ctx.u(0.6, 1.0), ctx.u(0.0, 0.3)
    keys = [(0.0, 0.0), (0.5 - hold / 2, depth), (0.5 + hold / 2, depth), (1.0, 0.0)]
    arms = ctx.pick("hang", "forward", "forward", "hips")

    def pose(u: float) -> Group:
        p = (u - start) / span * n
        d = float(_keyed(p - math.floor(p), keys)) if 0.0 <= p < n else 0.0
        b = cr.body(d)
        for which, k in (("near", 0.0), ("far", -8.0)):
            if arms == "forward":
                up = 12.0 + 72.0 * d / depth
                b.arm(which, angles=(up + k, up + k))
            elif arms == "hips":
                b.arm(which, target=b.torso_point(0.22, -0.2), hint=(-1.0, 0.2))
        return Group(b.ordered(b.parts(evidence=("leg_near", "leg_far"))), cr.ground)

    return Motion(pose)


def _leg_lift(ctx: Ctx) -> tuple[_Figure, Pair, Pair, str, Pair]:
    """Shared by kick and knee raise: figure, the near leg's rest and chambered (knee up) angles, free arms.

    Side-view actions move the near limb: the far one hides behind it at rest,
    and mirroring already gives both sides.
    """
    fig = _figure(ctx, "side", (-2, 6), (-6, 6))
    c1 = ctx.u(70, 100)
    return fig, fig.stance["near"], (c1, c1 - ctx.u(75, 105)), _arm_style(ctx), (ctx.u(40, 75), ctx.u(60, 100))


def _leg_group(fig: _Figure, angles: np.ndarray, chamber: Pair, style: str, out: Pair, ground: float) -> Group:
    b = fig.body(lean=-8.0 * min(max(angles[0] / chamber[0], 0.0), 1.0))
    b.leg("near", angles=(float(angles[0]), float(angles[1])))
    _side_arms(fig.stand(b), style, out)
    return Group(b.ordered(b.parts(evidence=("leg_near",))), ground)


def kick_leg(ctx: Ctx, frames: int) -> Motion:
    """Front kicks: knee up, shin snaps out, back to the knee-up pose, foot down; repeated."""
    fig, rest, chamber, style, out = _leg_lift(ctx)
    e1 = chamber[0] - ctx.u(0, 15)
    rest_a, cham_a, ext_a = np.array(rest), np.array(chamber), np.array((e1, e1 + ctx.u(-8, 8)))
    keys = [(0.0, rest_a), (0.25, cham_a), (0.4, ext_a), (0.55, cham_a), (0.8, rest_a), (1.0, rest_a)]
    cycles, phase = _cycles(ctx, 1.0, 2.5, frames), ctx.u(0, 1)
    ground = fig.ground()

    def pose(u: float) -> Group:
        p = cycles * u + phase
        return _leg_group(fig, _keyed(p - math.floor(p), keys), chamber, style, out, ground)

    return Motion(pose)


def raise_leg(ctx: Ctx, frames: int) -> Motion:
    """The knee comes up to a kick's chambered pose and stays there."""
    fig, rest, chamber, style, out = _leg_lift(ctx)
    start, length = ctx.u(0.0, 0.3), ctx.u(0.12, 0.3)
    sway = ctx.u(0, TAU)
    rest_a, cham_a = np.array(rest), np.array(chamber)
    ground = fig.ground()

    def pose(u: float) -> Group:
        angles = rest_a + (cham_a - rest_a) * _ramp(u, start, length) + 2.0 * math.sin(TAU * u + sway)
        return _leg_group(fig, angles, chamber, style, out, ground)

    return Motion(pose)


# --- hands: clap and punch ------------------------------------------------------------------


def clap_hands(ctx: Ctx, frames: int) -> Motion:
    """Hands meet in front of the chest (or above the head) and part again, over and over."""
    fig = _figure(ctx, "front", (-4, 4), (-6, 6), mouth=ctx.pick("smile", "open", "smile"))
    ground = fig.ground()
    high = ctx.chance(0.2)
    height, dx, spread = ctx.u(0.62, 0.78), ctx.u(-0.02, 0.02), ctx.u(0.07, 0.15)
    cycles, phase = _cycles(ctx, 2.0, 4.5, frames), ctx.u(0, math.pi)

    def pose(u: float) -> Group:
        b = fig.stand(fig.body())
        c = (b.head_point(0.0, -2.1) if high else b.torso_point(height)) + vec(dx, 0.0)
        gap = spread * abs(math.sin(math.pi * cycles * u + phase))
        for which, s in (("near", 1.0), ("far", -1.0)):
            b.arm(which, target=c + vec(s * (gap + 0.018), 0.012), hint=(s, 0.9 if high else 0.5))
        return Group(b.ordered(b.parts(evidence=("arm_near", "arm_far"))), ground)

    return Motion(pose)


def punch(ctx: Ctx, frames: int) -> Motion:
    """From a guard, the near fist shoots straight forward and comes back; repeated."""
    look = ctx.pal.look()
    stance = {"near": (ctx.u(15, 28), ctx.u(0, 12)), "far": (-ctx.u(15, 28), -ctx.u(5, 15))}
    fig = _Figure(look, "side", ctx.u(4, 12), ctx.u(-6, 6), stance)
    ground = fig.ground()
    aim, reach = ctx.u(82, 100), ctx.u(0.29, 0.315)
    hold = ctx.u(0.05, 0.2)
    keys = [(0.0, 0.0), (0.2, 1.0), (0.2 + hold, 1.0), (0.7, 0.0), (1.0, 0.0)]
    cycles, phase = _cycles(ctx, 1.5, 4.0, frames), ctx.u(0, 1)

    def pose(u: float) -> Group:
        p = cycles * u + phase
        e = float(_keyed(p - math.floor(p), keys))
        b = fig.stand(fig.body(lean=4.0 * e))
        _side_arms(b, "guard", (0.0, 0.0), skip=("near",))
        guard, thrust = b.head_point(1.6, -1.1), b.shoulders["near"] + direction(aim) * reach
        b.arm("near", target=guard + (thrust - guard) * e, hint=(0.0, 1.0), fist=True)
        return Group(b.ordered(b.parts(evidence=("arm_near",))), ground)

    return Motion(pose)


# --- whole body: sit down, stand up ---------------------------------------------------------


def sit_down(ctx: Ctx, frames: int) -> Motion:
    """Standing in front of a chair, the hips go back and down onto the seat as the torso bows and rights."""
    fig = _figure(ctx, "side", (-6, 6), (-6, 8))
    seat = {"near": (ctx.u(82, 96), ctx.u(-6, 12)), "far": (ctx.u(78, 92), ctx.u(-10, 8))}
    feet = {w: THIGH * direction(a1) + SHIN * direction(a2) for w, (a1, a2) in seat.items()}  # hips at the pelvis
    ground = max(f[1] for f in feet.values()) + FOOT_PAD
    chair = Part(
        "chair", "prop", True, props.chair(-0.1, 0.12, SEAT_Y, ground, -ctx.u(0.28, 0.36), ctx.pal.choice(WOODS))
    )
    x_stand = float(np.mean([f[0] for f in feet.values()])) - ctx.u(0.0, 0.05)
    y_stand = max(f[1] - math.sqrt(LEG_REACH**2 - (f[0] - x_stand) ** 2) for f in feet.values())
    start, length = ctx.u(0.05, 0.35), ctx.u(0.35, 0.6)
    bow = ctx.u(18, 32)

    def pose(u: float) -> Group:
        q = _ramp(u, start, length)
        back, down = _ease(q * 1.3), _ease((q - 0.15) / 0.85)
        b = fig.body(lean=bow * math.sin(math.pi * q), pelvis=(x_stand * (1 - back), y_stand * (1 - down)))
        for which, f in feet.items():
            b.leg(which, target=f, hint=(1.0, 0.0))
        return Group([chair] + b.ordered(b.parts(evidence=WHOLE_BODY)), ground)

    return Motion(pose)


def stand_up(ctx: Ctx, frames: int) -> Motion:
    """Exactly a sitting down played backwards, so every frame could belong to either."""
    return Motion(sit_down(ctx, frames).pose, reverse=True)


RECIPES: dict[str, Callable[[Ctx, int], Motion]] = {
    "WaveArm": lambda ctx, n: _arm_lift(ctx, n, wave=True, both=False),
    "RaiseArm": lambda ctx, n: _arm_lift(ctx, n, wave=False, both=False),
    "WaveBothArms": lambda ctx, n: _arm_lift(ctx, n, wave=True, both=True),
    "RaiseBothArms": lambda ctx, n: _arm_lift(ctx, n, wave=False, both=True),
    "Jump": jump,
    "Squat": squat,
    "SitDown": sit_down,
    "StandUp": stand_up,
    "KickLeg": kick_leg,
    "RaiseLeg": raise_leg,
    "ClapHands": clap_hands,
    "Punch": punch,
}


def sample_motion(action: str, ctx: Ctx, frames: int) -> Motion:
    """One random performance of ``action`` (a name from :data:`VIDEO_ACTIONS`) for a clip of ``frames``."""
    return RECIPES[action](ctx, frames)


__all__ = ["VIDEO_ACTIONS", "Motion", "sample_motion"]
