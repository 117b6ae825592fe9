"""Colour choices that keep figures and props visible against their background.

Every colour of a figure or held prop is picked away (in RGB distance) from the
background and clutter colours of its scene, so the action stays readable and
every evidence pixel really differs from what is behind it.
"""

from __future__ import annotations

import colorsys
from collections.abc import Sequence

import numpy as np

from hartrace.synth.draw import Color
from hartrace.synth.figure import HAIR_COLORS, SKIN_TONES, Look

MIN_DIST = 70.0


def hsv(h: float, s: float, v: float) -> Color:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return int(round(r * 255)), int(round(g * 255)), int(round(b * 255))


def distance(a: Color, avoid: Sequence[Color]) -> float:
    if not avoid:
        return float("inf")
    d = np.asarray(avoid, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    return float(np.sqrt((d * d).sum(axis=1)).min())


class Palette:
    """Random colours for one scene that stay at least ``min_dist`` from ``avoid`` where possible."""

    def __init__(self, rng: np.random.Generator, avoid: Sequence[Color], min_dist: float = MIN_DIST) -> None:
        self.rng, self.avoid, self.min_dist = rng, list(avoid), min_dist

    def _best(self, candidates: list[Color], extra: Sequence[Color] = ()) -> Color:
        avoid = self.avoid + list(extra)
        best, best_d = candidates[0], -1.0
        for c in candidates:
            d = distance(c, avoid)
            if d >= self.min_dist:
                return c
            if d > best_d:
                best, best_d = c, d
        return best

    def color(
        self, s: tuple[float, float] = (0.45, 0.95), v: tuple[float, float] = (0.35, 0.95), extra: Sequence[Color] = ()
    ) -> Color:
        """A random colour of the given saturation/value ranges, also away from ``extra`` colours."""
        rng = self.rng
        return self._best([hsv(rng.random(), rng.uniform(*s), rng.uniform(*v)) for _ in range(16)], extra)

    def choice(self, options: Sequence[Color]) -> Color:
        """One of ``options`` (random order), the first far enough from the background."""
        order = self.rng.permutation(len(options))
        return self._best([tuple(options[i]) for i in order])  # type: ignore[misc]

    def look(self) -> Look:
        """Skin, hair and clothes of one figure."""
        rng = self.rng
        skin = self.choice(SKIN_TONES)
        shirt = self.color()
        pants = self.choice(
            [(40, 50, 90), (30, 30, 35), (90, 70, 50), (120, 120, 130), (60, 90, 60)] + [self.color(v=(0.25, 0.7))]
        )
        return Look(
            skin=skin,
            hair=self.choice(HAIR_COLORS),
            shirt=shirt,
            pants=pants,
            shoes=self.choice([(25, 25, 25), (240, 240, 240), (110, 60, 30), (170, 30, 30)]),
            long_sleeves=bool(rng.random() < 0.5),
            shorts=bool(rng.random() < 0.2),
            hair_style=int(rng.choice(3, p=[0.55, 0.35, 0.1])),
        )
