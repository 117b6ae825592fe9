"""Which training augmentation a run uses, named by its parts: ``crop,flip,rotate=15,jitter=0.2``, ``on`` or ``off``.

Kept apart from :mod:`hartrace.data.transforms` (which builds the torchvision steps) so that
reading and checking a training config does not import torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hartrace.base.errors import UsageError

#: Every part ``--augment`` names, with what its value means and its value when none is given.
AUGMENT_PARTS: dict[str, tuple[str, float | None]] = {
    "crop": ("smallest share of the image a random crop keeps, in (0, 1]", 0.5),
    "flip": ("random horizontal flip; takes no value", None),
    "rotate": ("largest rotation in degrees, in (0, 180]", 10.0),
    "jitter": ("brightness, contrast and saturation jitter (hue a quarter of it), in (0, 1]", 0.2),
}

_ON = ("on", "true", "yes", "1")
_OFF = ("off", "false", "no", "0", "none")
_KNOWN = "crop[=MIN_SCALE], flip, rotate[=DEGREES], jitter[=AMOUNT], or on / off alone"


@dataclass(frozen=True)
class AugmentConfig:
    """The augmentation parts of a run; ``strength`` scales every part given at once (0 = none, 1 = as given).

    The defaults are ``on``: random resized crop keeping at least half the image, flip,
    rotation up to 10 degrees and colour jitter 0.2. A part that is off has ``crop``/``hflip``
    False or ``rotation_degrees``/``color_jitter`` 0.
    """

    enabled: bool = True
    strength: float = 1.0
    hflip: bool = True
    rotation_degrees: float = 10.0
    color_jitter: float = 0.2
    min_crop_scale: float = 0.5
    crop: bool = True
    named: bool = field(default=False, compare=False)  # parsed from named parts: each must apply (video: no rotate)

    def __post_init__(self) -> None:
        if self.strength < 0:
            raise UsageError(f"augmentation strength must be >= 0, got {self.strength}")

    @classmethod
    def parse(cls, text: str | bool, strength: float = 1.0) -> AugmentConfig:
        """``on``/``off`` (or a config file's true/false), or comma-separated parts: each unnamed part is off.

        Raises:
            UsageError: an unknown or repeated part, or a value out of range, in one line naming the known parts.
        """
        if isinstance(text, bool):
            return cls(enabled=text, strength=strength)
        spelt = str(text).strip().lower()
        if spelt in _ON:
            return cls(strength=strength)
        if spelt in _OFF:
            return cls(enabled=False, strength=strength)
        if not spelt:
            raise UsageError(f"--augment needs on, off or parts: {_KNOWN}")
        values: dict[str, float | None] = {}
        for item in spelt.split(","):
            name, has_value, raw = (piece.strip() for piece in item.partition("="))
            if name in _ON + _OFF:
                raise UsageError(f"--augment {text}: {name} stands alone, not among parts")
            if name not in AUGMENT_PARTS:
                shown = f"unknown augmentation part {name!r}" if name else "an empty augmentation part"
                raise UsageError(f"--augment {text}: {shown}; known parts: {_KNOWN}")
            if name in values:
                raise UsageError(f"--augment {text}: {name} is given twice")
            values[name] = _part_value(text, name, raw if has_value else None)
        return cls(
            strength=strength,
            named=True,
            crop="crop" in values,
            min_crop_scale=values.get("crop") or 0.5,
            hflip="flip" in values,
            rotation_degrees=values.get("rotate") or 0.0,
            color_jitter=values.get("jitter") or 0.0,
        )

    @property
    def active(self) -> bool:
        """Whether training images are changed at random at all (else training reads them as evaluation does)."""
        return self.enabled and self.strength > 0

    @property
    def crop_scale(self) -> tuple[float, float]:
        """The random crop's area range, widened by ``strength`` (never below torchvision's 0.08)."""
        return max(0.08, self.min_crop_scale + (1.0 - self.min_crop_scale) * (1.0 - self.strength)), 1.0

    @property
    def text(self) -> str:
        """The parts as ``--augment`` takes them (``on`` for the default parts, ``off``), saved in a run's config."""
        if not self.enabled:
            return "off"
        if self == AugmentConfig(strength=self.strength):
            return "on"
        parts = [f"crop={self.min_crop_scale:g}"] if self.crop else []
        parts += ["flip"] if self.hflip else []
        parts += [f"rotate={self.rotation_degrees:g}"] if self.rotation_degrees > 0 else []
        parts += [f"jitter={self.color_jitter:g}"] if self.color_jitter > 0 else []
        return ",".join(parts) or "off"


def _part_value(text: str | bool, name: str, raw: str | None) -> float | None:
    """A part's value from ``name=raw`` (its default when ``raw`` is None), checked against its range."""
    meaning, default = AUGMENT_PARTS[name]
    if default is None:
        if raw is not None:
            raise UsageError(f"--augment {text}: {name} takes no value")
        return None
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"--augment {text}: {name}={raw} is not a number ({name}: {meaning})") from None
    upper = {"crop": 1.0, "rotate": 180.0, "jitter": 1.0}[name]
    if not 0 < value <= upper:
        raise UsageError(f"--augment {text}: {name}={raw} is out of range ({name}: {meaning})")
    return value
