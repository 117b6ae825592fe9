"""Articulated figures: a pose (joint angles or hand/foot targets) becomes limb shapes.

A :class:`Body` lives in its own local frame: units of standing height, ``x``
towards where the figure faces, ``y`` down, pelvis at the origin.  Angles are
degrees as in :func:`~hartrace.synth.draw.direction` (0 down, 90 forward, 180
up).  Limbs are posed either by absolute segment angles or by a target for the
hand/foot (two-bone inverse kinematics), which is how hands land exactly on
phones, cups, handlebars and keyboards.  Every angle and target gets a little
random jitter so no two figures are the same.

Views: ``side`` (profile, facing +x; "near" limbs towards the viewer, "far"
limbs behind and shaded) and ``front`` (facing the viewer; "near" limbs are on
the +x side of the picture, "far" ones on the -x side).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hartrace.synth.draw import (
    Color,
    Disc,
    Part,
    Poly,
    Shape,
    Similarity,
    Stroke,
    Vec,
    direction,
    ellipse_pts,
    outlined,
    perp,
    shade,
    vec,
)

Pair = tuple[float, float]

HEAD_R = 0.085
NECK = 0.095  # shoulder line to head centre
TORSO = 0.30  # pelvis to shoulder line
UPPER_ARM, FOREARM = 0.165, 0.155
THIGH, SHIN = 0.235, 0.225
ARM_W, LEG_W = 0.062, 0.08
HAND_R, FIST_R = 0.03, 0.037
FOOT = 0.075

SKIN_TONES: tuple[Color, ...] = (
    (255, 219, 180),
    (241, 194, 150),
    (224, 172, 125),
    (198, 134, 86),
    (160, 102, 60),
    (118, 74, 42),
    (88, 56, 34),
)
HAIR_COLORS: tuple[Color, ...] = (
    (30, 24, 20),
    (70, 45, 25),
    (120, 80, 40),
    (200, 160, 90),
    (150, 150, 150),
    (160, 60, 30),
)


@dataclass(frozen=True)
class Look:
    """Colours and clothing of one figure."""

    skin: Color
    hair: Color
    shirt: Color
    pants: Color
    shoes: Color
    long_sleeves: bool
    shorts: bool
    hair_style: int  # 0 short, 1 long, 2 bald


@dataclass
class _Limb:
    root: Vec
    joint: Vec
    end: Vec


def _ik(root: Vec, target: Vec, l1: float, l2: float, hint: Vec) -> tuple[Vec, Vec]:
    """Joint and end of a two-bone limb reaching for ``target``; the joint bends towards ``hint``."""
    v = target - root
    n = float(np.linalg.norm(v))
    u = v / n if n > 1e-9 else vec(0.0, 1.0)
    dist = min(max(n, abs(l1 - l2) + 1e-3), l1 + l2 - 1e-4)
    cos_a = (l1 * l1 + dist * dist - l2 * l2) / (2 * l1 * dist)
    a = math.acos(max(-1.0, min(1.0, cos_a)))
    side = perp(u)
    best = None
    for sgn in (1.0, -1.0):
        joint = root + l1 * (math.cos(a) * u + sgn * math.sin(a) * side)
        score = float(np.dot(joint - root, hint))
        if best is None or score > best[0]:
            best = (score, joint)
    return best[1], root + u * dist


class Body:
    """One figure: torso and head from lean/tilt, limbs added by :meth:`arm` and :meth:`leg`.

    ``lean`` tips the torso forward (front view: towards +x); ``tilt`` nods the
    head down (negative: thrown back).  ``place`` maps the local frame into the
    group frame (position, scale, facing) when shapes are exported.
    """

    def __init__(
        self,
        look: Look,
        rng: np.random.Generator,
        *,
        view: str = "side",
        lean: float = 0.0,
        tilt: float = 0.0,
        pelvis: tuple[float, float] = (0.0, 0.0),
        jitter: float = 4.0,
        place: Similarity | None = None,
    ) -> None:
        self.look, self.rng, self.view, self.jit = look, rng, view, jitter
        self.place = place or Similarity()
        self.lean = lean + self._j()
        self.tilt = tilt + self._j()
        self.pelvis = vec(*pelvis)
        self.up = direction(180.0 - self.lean)
        self.fwd = -perp(self.up)  # torso's forward (front view: towards +x)
        self.neck = self.pelvis + TORSO * self.up
        self.head_up = direction(180.0 - self.lean - self.tilt)
        self.head_fwd = -perp(self.head_up)
        self.head = self.neck + NECK * self.head_up
        # front view: shoulders and hips spread sideways; side view: the near shoulder a touch forward
        half_sh, half_hip = (0.1, 0.06) if view == "front" else (0.012, 0.0)
        sh = self.neck - 0.025 * self.up
        self.shoulders = {"near": sh + half_sh * self.fwd, "far": sh - half_sh * self.fwd}
        self.hips = {"near": self.pelvis + half_hip * self.fwd, "far": self.pelvis - half_hip * self.fwd}
        self.arms: dict[str, _Limb] = {}
        self.legs: dict[str, _Limb] = {}
        self.fists: set[str] = set()
        self.eyes, self.mouth = "open", "closed"

    # --- jitter and landmarks (local frame) ----------------------------------------------

    def _j(self) -> float:
        return float(self.rng.uniform(-self.jit, self.jit))

    def _jt(self, p: Pair | Vec) -> Vec:
        return np.asarray(p, dtype=np.float64) + self.rng.uniform(-0.008, 0.008, 2) * (self.jit / 4.0)

    def head_point(self, fwd: float, up: float) -> Vec:
        """A point in head units: ``fwd``/``up`` head radii along the face and crown directions."""
        return self.head + HEAD_R * (fwd * self.head_fwd + up * self.head_up)

    def mouth_point(self) -> Vec:
        return self.head_point(0.75, -0.45) if self.view == "side" else self.head_point(0.0, -0.5)

    def ear_point(self) -> Vec:
        return self.head_point(-0.1, 0.0)

    def torso_point(self, along: float, out: float = 0.0) -> Vec:
        """``along`` 0 = pelvis .. 1 = shoulders; ``out`` in torso half-widths towards the front."""
        return self.pelvis + along * TORSO * self.up + out * 0.065 * self.fwd

    def g(self, p: Vec) -> Vec:
        """A local point in the group frame (where props are built)."""
        return self.place.point(p)

    # --- limbs ------------------------------------------------------------------------------

    def arm(
        self,
        which: str,
        *,
        angles: Pair | None = None,
        target: Vec | Pair | None = None,
        hint: Pair = (0.0, 1.0),
        fist: bool = False,
        jitter: bool = True,
    ) -> Vec:
        """Pose an arm by (upper, fore) absolute angles or a hand target; returns the hand (local)."""
        self.arms[which] = self._limb(self.shoulders[which], UPPER_ARM, FOREARM, angles, target, hint, jitter)
        if fist:
            self.fists.add(which)
        return self.arms[which].end

    def leg(
        self,
        which: str,
        *,
        angles: Pair | None = None,
        target: Vec | Pair | None = None,
        hint: Pair = (1.0, 0.0),
        jitter: bool = True,
    ) -> Vec:
        """Pose a leg by (thigh, shin) absolute angles or an ankle target; returns the ankle (local)."""
        self.legs[which] = self._limb(self.hips[which], THIGH, SHIN, angles, target, hint, jitter)
        return self.legs[which].end

    def _limb(
        self, root: Vec, l1: float, l2: float, angles: Pair | None, target: Vec | Pair | None, hint: Pair, jitter: bool
    ) -> _Limb:
        if target is not None:
            t = self._jt(target) if jitter else np.asarray(target, dtype=np.float64)
            joint, end = _ik(root, t, l1, l2, vec(*hint))
            return _Limb(root, joint, end)
        a1, a2 = angles if angles is not None else (0.0, 0.0)
        if jitter:
            a1, a2 = a1 + self._j(), a2 + self._j()
        joint = root + l1 * direction(a1)
        return _Limb(root, joint, joint + l2 * direction(a2))

    def stand(self, spread: float = 6.0) -> None:
        """Both legs straight down onto the floor, feet ``spread`` degrees apart."""
        for which, sgn in (("near", 1.0), ("far", -1.0)):
            if which not in self.legs:
                a = sgn * spread / 2
                self.leg(which, angles=(a, a * 0.6))

    def relax_arms(self) -> None:
        """Arms hanging loosely, for any arm an action leaves free."""
        for which, sgn in (("near", 1.0), ("far", -1.0)):
            if which not in self.arms:
                if self.view == "front":
                    self.arm(which, angles=(sgn * 12.0, sgn * 6.0))
                else:
                    self.arm(which, angles=(sgn * 10.0 - self.lean * 0.3, sgn * 18.0 - self.lean * 0.3))

    # --- shapes -----------------------------------------------------------------------------

    def _arm_shapes(self, which: str, k: float) -> list[Shape]:
        lb, lk = self.arms[which], self.look
        fore = lk.shirt if lk.long_sleeves else lk.skin
        r = FIST_R if which in self.fists else HAND_R
        return outlined(
            [
                Stroke(np.array([lb.root, lb.joint]), ARM_W, shade(lk.shirt, k)),
                Stroke(np.array([lb.joint, lb.end]), ARM_W * 0.9, shade(fore, k)),
                Disc(lb.end + (lb.end - lb.joint) / FOREARM * r * 0.5, r, shade(lk.skin, k)),
            ]
        )

    def _leg_shapes(self, which: str, k: float) -> list[Shape]:
        lb, lk = self.legs[which], self.look
        shin = lk.skin if lk.shorts else lk.pants
        if self.view == "front":
            sgn = 1.0 if which == "near" else -1.0
            toe = lb.end + vec(sgn * FOOT * 0.6, 0.01)
        else:
            d = (lb.end - lb.joint) / SHIN
            toe = lb.end + FOOT * perp(d)
        return outlined(
            [
                Stroke(np.array([lb.root, lb.joint]), LEG_W, shade(lk.pants, k)),
                Stroke(np.array([lb.joint, lb.end]), LEG_W * 0.88, shade(shin, k)),
                Stroke(np.array([lb.end, toe]), LEG_W * 0.62, shade(lk.shoes, k)),
            ]
        )

    def _torso_shapes(self) -> list[Shape]:
        lk = self.look
        if self.view == "front":
            s = self.fwd
            top, bot = self.neck - 0.02 * self.up, self.pelvis + 0.02 * self.up
            pts = np.array([top - 0.095 * s, top + 0.095 * s, bot + 0.07 * s, bot - 0.07 * s])
            hips = np.array(
                [
                    bot - 0.075 * s,
                    bot + 0.075 * s,
                    self.pelvis - 0.04 * self.up + 0.07 * s,
                    self.pelvis - 0.04 * self.up - 0.07 * s,
                ]
            )
            return outlined([Stroke(hips, 0.03, lk.pants, closed=True), Poly(hips, lk.pants)]) + outlined(
                [Stroke(pts, 0.04, lk.shirt, closed=True), Poly(pts, lk.shirt)]
            )
        return outlined(
            [
                Disc(self.pelvis, 0.068, lk.pants),
                Stroke(np.array([self.pelvis + 0.05 * self.up, self.neck - 0.035 * self.up]), 0.14, lk.shirt),
            ]
        )

    def _hair_pts(self) -> np.ndarray:
        r, c, u, f = HEAD_R, self.head, self.head_up, self.head_fwd

        def arc(a0: float, a1: float, rad: float, centre: Vec, n: int = 14) -> np.ndarray:
            t = np.radians(np.linspace(a0, a1, n))
            return centre + rad * (np.outer(np.cos(t), u) + np.outer(np.sin(t), f))

        long = self.look.hair_style == 1
        if self.view == "side":
            pts = arc(-150.0 if long else -120.0, 40.0, r * 1.07, c)
            if long:  # falls behind the neck
                pts = np.vstack([c - f * r * 0.45 - u * r * 1.45, c - f * r * 1.15 - u * r * 1.35, pts])
            return pts
        span = 150.0 if long else 108.0
        fringe = [c + r * (fx * f + fu * u) for fx, fu in ((0.95, 0.05), (0.45, 0.5), (-0.45, 0.5), (-0.95, 0.05))]
        return np.vstack([arc(-span, span, r * 1.07, c), np.array(fringe)])

    def _head_shapes(self) -> list[Shape]:
        lk, r, c = self.look, HEAD_R, self.head
        u, f = self.head_up, self.head_fwd
        dark = (25, 20, 20)
        out: list[Shape] = [Stroke(np.array([self.neck - 0.02 * self.up, c]), 0.045, lk.skin)]
        if self.view == "side":
            out.append(Disc(c + f * r * 0.95 - u * r * 0.12, r * 0.2, lk.skin))  # nose
        out = outlined(out + [Disc(c, r, lk.skin)])
        if lk.hair_style != 2:
            out += outlined([Poly(self._hair_pts(), lk.hair)], 0.7)
        eye_r = r * 0.13
        eyes = (
            [c + f * r * 0.45 + u * r * 0.15]
            if self.view == "side"
            else [c + f * r * s * 0.38 + u * r * 0.12 for s in (-1, 1)]
        )
        for e in eyes:
            if self.eyes == "open":
                out.append(Disc(e, eye_r, dark))
            else:  # closed: a short curved line
                out.append(Stroke(np.array([e - f * r * 0.18, e - u * r * 0.07, e + f * r * 0.18]), r * 0.1, dark))
        m = self.head_point(0.62, -0.45) if self.view == "side" else self.head_point(0.0, -0.5)
        if self.mouth == "open":
            out.append(Poly(ellipse_pts(m, r * 0.34, r * 0.3, up=u, n=16), (90, 20, 25)))
            out.append(Poly(ellipse_pts(m - u * r * 0.12, r * 0.2, r * 0.12, up=u, n=12), (220, 90, 100)))
        elif self.mouth == "smile":
            t = np.radians(np.linspace(200, 340, 7))
            out.append(
                Stroke(m + r * 0.28 * (np.outer(np.cos(t), f) + np.outer(np.sin(t), u)) + u * r * 0.15, r * 0.1, dark)
            )
        else:
            out.append(Stroke(np.array([m - f * r * 0.2, m + f * r * 0.2]), r * 0.09, dark))
        return out

    def parts(self, prefix: str = "", evidence: tuple[str, ...] = (), k_far: float = 0.78) -> dict[str, Part]:
        """Shapes per body part in the group frame: head, torso, arm_near/far, leg_near/far.

        Parts named in ``evidence`` are flagged as evidence.  Missing limbs get a
        relaxed default pose first.
        """
        self.stand()
        self.relax_arms()
        k = 1.0 if self.view == "front" else k_far
        raw = {
            "arm_far": self._arm_shapes("far", k),
            "leg_far": self._leg_shapes("far", k),
            "torso": self._torso_shapes(),
            "leg_near": self._leg_shapes("near", 1.0),
            "head": self._head_shapes(),
            "arm_near": self._arm_shapes("near", 1.0),
        }
        return {
            name: Part(prefix + name, "figure", name in evidence, [self.place.shape(s) for s in shapes])
            for name, shapes in raw.items()
        }

    def ordered(self, parts: dict[str, Part], *, arms_behind: bool = False) -> list[Part]:
        """Default drawing order: far limbs, torso, near leg, head, near arm (front view: legs, torso, head, arms)."""
        if self.view == "front":
            names = ["leg_far", "leg_near", "torso", "head", "arm_far", "arm_near"]
            if arms_behind:
                names = ["leg_far", "leg_near", "arm_far", "arm_near", "torso", "head"]
        else:
            names = ["arm_far", "leg_far", "torso", "leg_near", "head", "arm_near"]
        return [parts[n] for n in names]
