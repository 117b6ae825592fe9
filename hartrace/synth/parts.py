"""The concepts of the synthetic sets: which concept (head, arms, phone, bicycle...) each drawn part shows.

Network dissection and concept tests need names a person would type, the same
for every image of a set, so the legend is one fixed list: background, the
figure's body parts, then one concept per prop kind (a pixel shared evenly goes to the
later one: a phone's edge in a hand is the phone's).  A distractor counts as
its kind (a phone on the floor is a ``phone``) and wall clutter as background.
"""

from __future__ import annotations

import numpy as np

BODY_CONCEPTS: tuple[str, ...] = ("head", "torso", "arms", "legs")
PROP_CONCEPTS: tuple[str, ...] = (
    "phone",
    "cup",
    "headphones",
    "laptop",
    "plate",
    "cutlery",
    "table",
    "chair",
    "sofa",
    "stool",
    "bed",
    "pillow",
    "blanket",
    "bicycle",
    "wheel",
    "clap_marks",
)
#: The legend of every synthetic set: concept id ``i`` is ``CONCEPTS[i]`` (0 = background).
CONCEPTS: tuple[str, ...] = ("background", *BODY_CONCEPTS, *PROP_CONCEPTS)

_BODY_PARTS = {
    "head": "head",
    "torso": "torso",
    "arm_near": "arms",
    "arm_far": "arms",
    "leg_near": "legs",
    "leg_far": "legs",
}
# prop part names that are not a concept's own name
_PROP_PARTS = {"utensil": "cutlery", "bike_far": "bicycle", "bike_near": "bicycle"}
_IDS = {name: i for i, name in enumerate(CONCEPTS)}


def concept_of(name: str, role: str) -> str:
    """The concept a part named ``name`` with ``role`` (clutter, distractor, figure, prop) shows.

    Raises ``KeyError`` for a part no concept covers, so a new prop cannot slip
    into the maps as background unnoticed.
    """
    if role == "clutter":
        return "background"
    if role == "figure":  # "head", or "a_head" for the first of two figures
        for part, concept in _BODY_PARTS.items():
            if name == part or name.endswith("_" + part):
                return concept
        raise KeyError(f"figure part {name!r} is no body part")
    kind = name.removeprefix("distractor_") if role == "distractor" else name
    concept = _PROP_PARTS.get(kind, kind)
    if concept not in PROP_CONCEPTS:
        raise KeyError(f"prop {name!r} has no concept; add its kind to PROP_CONCEPTS")
    return concept


def concept_lut(names: tuple[str, ...], roles: tuple[str, ...]) -> np.ndarray:
    """Concept id per label-map id: index 0 (nothing drawn) is background, ``i + 1`` is part ``i``."""
    return np.array([0] + [_IDS[concept_of(n, r)] for n, r in zip(names, roles, strict=True)], dtype=np.uint8)


__all__ = ["BODY_CONCEPTS", "CONCEPTS", "PROP_CONCEPTS", "concept_lut", "concept_of"]
