"""Concept image folders for concept tests (TCAV): each prop kind, and random images of anything.

A concept test asks whether a class depends on a concept, by comparing
activations of images that show the concept with those of random images
(Kim et al., 2018). Random images are anything the generator draws: a third are
scenes of a random action as in the data set, the rest walls with clutter,
random props and distractors. A concept's images are drawn the same way with its
prop added at the size scenes draw it (``placement="scene"``), so the prop is the
one thing that sets them apart from the random ones; or the prop alone, large,
on the scenes' walls and floors (``"alone"``), which also sets them apart by
having no figure and less clutter, a difference a concept vector learns too.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hartrace.base.errors import UsageError
from hartrace.base.io import write_bytes, write_json
from hartrace.synth import props
from hartrace.synth.actions import ACTIONS, CUSHIONS, DRINKS, GLASS, PHONES, SCREENS, Ctx
from hartrace.synth.actions_more import CUTLERY, FOODS, PLATES, SHELLS, WOODS, bed_shapes, blanket_shapes, seat_shapes
from hartrace.synth.draw import Part, Shape, Similarity, bbox, shade, vec
from hartrace.synth.figure import HEAD_R
from hartrace.synth.palette import Palette
from hartrace.synth.parts import PROP_CONCEPTS, concept_of
from hartrace.synth.scene import DISTRACTORS, Rendered, finish_scene, sample_backdrop, sample_scene
from hartrace.synth.writer import _check_int, claim_folder, encode, run_jobs, share_out, write_marker

# --- each prop kind alone, in its own frame (units of standing height, y down) ----------------


def _phone(ctx: Ctx) -> list[Shape]:
    body, screen = ctx.pal.choice(PHONES), ctx.pal.choice(SCREENS)
    if ctx.chance(0.3):
        return props.phone_lying(vec(0, 0), body, screen)
    return props.phone(vec(0, 0), vec(0, -1), body, screen, length=ctx.u(0.11, 0.13), width=ctx.u(0.058, 0.062))


def _cup(ctx: Ctx) -> list[Shape]:
    glass = ctx.chance(0.35)
    color = ctx.pal.choice(GLASS) if glass else ctx.pal.color(s=(0.3, 0.9), v=(0.5, 1.0))
    handle = 1 if ctx.chance(0.5) else -1
    shapes, _ = props.cup(vec(0, 0), vec(0, -1), color, handle=handle, glass=glass, liquid=ctx.pal.choice(DRINKS))
    return shapes


def _headphones(ctx: Ctx) -> list[Shape]:
    color = ctx.pal.color(s=(0.6, 1.0), v=(0.45, 1.0))
    shapes, _ = props.headphones(vec(0, 0), HEAD_R, vec(0, -1), color, ctx.pal.choice(CUSHIONS))
    return shapes


def _laptop(ctx: Ctx) -> list[Shape]:
    shell = ctx.pal.choice(SHELLS)
    if ctx.chance(0.3):
        return props.laptop_closed(vec(0, 0), shell)
    return props.laptop(-0.1, 0.06, 0.0, ctx.u(0.14, 0.16), ctx.u(95, 120), shell, shade(shell, 0.6))


def _plate(ctx: Ctx) -> list[Shape]:
    food = [ctx.pal.choice(FOODS) for _ in range(int(ctx.rng.integers(2, 4)))]
    return props.plate(vec(0, 0), ctx.pal.choice(PLATES), food)


def _cutlery(ctx: Ctx) -> list[Shape]:
    color, food = ctx.pal.choice(CUTLERY), ctx.pal.choice(FOODS)
    return props.utensil(vec(0, 0), vec(0, -ctx.u(0.08, 0.1)), color, food, spoon=ctx.chance(0.4))


def _table(ctx: Ctx) -> list[Shape]:
    half = ctx.u(0.12, 0.28)
    return props.table(-half, half, -ctx.u(0.2, 0.45), 0.0, ctx.pal.choice(WOODS))


def _seat(furniture: str) -> Callable[[Ctx], list[Shape]]:
    return lambda ctx: seat_shapes(ctx, furniture, ctx.u(0.4, 0.5))


def _bed(ctx: Ctx) -> list[Shape]:
    return bed_shapes(ctx)[0]


def _pillow(ctx: Ctx) -> list[Shape]:
    return props.pillow(vec(0, 0), ctx.pal.choice(PLATES))


def _blanket(ctx: Ctx) -> list[Shape]:
    return blanket_shapes(ctx, bottom=ctx.u(0.1, 0.16))


def _bicycle(ctx: Ctx) -> list[Shape]:
    return [shape for _, piece in DISTRACTORS["bike"][1](ctx) for shape in piece]


def _wheel(ctx: Ctx) -> list[Shape]:
    return props.wheel(vec(0, 0), 0.19, metal=ctx.pal.choice(props.METALS))


def _clap_marks(ctx: Ctx) -> list[Shape]:
    return props.clap_marks(vec(0, 0), ctx.pal.color(s=(0.6, 1.0), v=(0.6, 1.0)))


DRAW_ALONE: dict[str, Callable[[Ctx], list[Shape]]] = {
    "phone": _phone,
    "cup": _cup,
    "headphones": _headphones,
    "laptop": _laptop,
    "plate": _plate,
    "cutlery": _cutlery,
    "table": _table,
    "chair": _seat("chair"),
    "sofa": _seat("sofa"),
    "stool": _seat("stool"),
    "bed": _bed,
    "pillow": _pillow,
    "blanket": _blanket,
    "bicycle": _bicycle,
    "wheel": _wheel,
    "clap_marks": _clap_marks,
}


#: How concept images show their prop: in a random picture at a scene's scale, or alone and large.
PLACEMENTS = ("scene", "alone")

# --- placing and rendering --------------------------------------------------------------------


def _place(
    ctx: Ctx, shapes: list[Shape], size: int, longest: tuple[float, float], scale: float | None = None
) -> tuple[Similarity, float]:
    """A random rotation, a size (the longer side of the box, a log-uniform fraction ``longest`` of the picture;
    or ``scale`` pixels per standing height, as a scene draws it) and a position inside the picture; returns it
    and the pixel row of the drawn bottom."""
    rotation = ctx.u(-30, 30)
    x0, y0, x1, y1 = bbox([Part("", "", False, [Similarity(rotation=rotation).shape(s) for s in shapes])])
    if scale is None:
        side = size * math.exp(ctx.u(math.log(longest[0]), math.log(longest[1])))
        scale = side / max(x1 - x0, y1 - y0, 1e-6)
    margin = 0.02 * size

    def offset(lo: float, hi: float) -> float:
        a, b = margin - lo * scale, size - margin - hi * scale
        return ctx.u(a, b) if a < b else (a + b) / 2

    place = Similarity(scale, (offset(x0, x1), offset(y0, y1)), rotation=rotation)
    return place, place.origin[1] + y1 * scale


def render_concept_image(kind: str, rng: np.random.Generator, size: int, placement: str = "scene") -> Rendered:
    """One picture of the prop ``kind`` (a name in :data:`~hartrace.synth.parts.PROP_CONCEPTS`); its concept map
    shows where it is. ``placement``: ``"scene"`` draws it at a scene's scale into a random picture drawn as the
    random sets' are (so the concept is the only thing that sets the folder apart from them); ``"alone"``
    draws it large, alone on a random wall, floor and clutter."""
    if kind not in DRAW_ALONE:
        raise UsageError(f"unknown prop concept {kind!r}; expected one of: {', '.join(DRAW_ALONE)}")
    if placement not in PLACEMENTS:
        raise UsageError(f"unknown placement {placement!r}; expected one of: {', '.join(PLACEMENTS)}")
    if placement == "scene":
        return render_random_image(rng, size, with_prop=kind)
    backdrop = sample_backdrop(rng, size)
    ctx = backdrop.ctx
    shapes = DRAW_ALONE[kind](ctx)
    place, bottom = _place(ctx, shapes, size, (0.35, 0.9))
    floor_y = bottom - ctx.u(0.02, 0.15) * size if backdrop.floor else None  # it stands on the floor
    part = Part(kind, "prop", True, [place.shape(s) for s in shapes])
    return finish_scene(kind, size, backdrop, [part], floor_y).render()


def render_random_image(rng: np.random.Generator, size: int, with_prop: str | None = None) -> Rendered:
    """One random picture: a scene of a random action, or a wall with clutter, up to three random props
    and the scenes' distractors; no particular concept.

    ``with_prop``: that prop kind is added, drawn at the scale of the scene's figure (or of a figure the
    picture could hold), so the picture shows the concept in context, as the data set's scenes do.
    """
    if rng.random() < 1 / 3:
        scene = sample_scene(ACTIONS[int(rng.integers(len(ACTIONS)))], rng, size)
        if with_prop is not None:
            head = bbox([p for p in scene.parts if p.role == "figure" and concept_of(p.name, p.role) == "head"][:1])
            ctx = Ctx(rng, Palette(rng, []))
            shapes = DRAW_ALONE[with_prop](ctx)
            place, _ = _place(ctx, shapes, size, (0.0, 0.0), scale=(head[2] - head[0]) / (2 * HEAD_R))
            scene.parts.append(Part(with_prop, "prop", False, [place.shape(s) for s in shapes]))
        return scene.render()
    backdrop = sample_backdrop(rng, size)
    ctx = backdrop.ctx
    parts: list[Part] = []
    taken: list[tuple[float, ...]] = []

    def add(kind: str, scale: float | None) -> None:
        shapes = DRAW_ALONE[kind](ctx)
        place, _ = _place(ctx, shapes, size, (0.15, 0.5), scale=scale)
        parts.append(Part(kind, "prop", False, [place.shape(s) for s in shapes]))
        taken.append(bbox(parts[-1:]))

    for _ in range(int(rng.integers(0, 4))):
        add(PROP_CONCEPTS[int(rng.integers(len(PROP_CONCEPTS)))], None)
    floor_y = ctx.u(0.45, 0.95) * size if backdrop.floor else None
    standing = ctx.u(0.5, 0.9) * size  # pixels per standing height, as a scene's figure
    if with_prop is not None:
        add(with_prop, standing)
    return finish_scene("random", size, backdrop, parts, floor_y, distractors_at=standing, avoid=taken).render()


# --- the folders -----------------------------------------------------------------------------

LISTING = "concepts.json"
_FORMAT = "hartrace-synth-concepts"
_RANDOM = "random_{}"

Job = tuple[str, int, int, str, list[tuple[str, int]]]  # root, size, seed, placement, [(folder, index)]


@dataclass(frozen=True)
class ConceptSetsReport:
    """What :func:`generate_concept_sets` wrote and how fast."""

    root: Path
    concepts: tuple[str, ...]
    random: tuple[str, ...]
    per_concept: int
    seconds: float
    images_per_second: float


def concept_rng(seed: int, folder: str, index: int) -> np.random.Generator:
    """The generator for one image of ``folder``: independent of the other folders, of the data sets'
    images and of which worker draws it."""
    return np.random.default_rng(np.random.SeedSequence([seed, 2, zlib.crc32(folder.encode()), index]))


def _render_job(job: Job) -> int:
    root_s, size, seed, placement, items = job
    for folder, index in items:
        rng = concept_rng(seed, folder, index)
        if folder in DRAW_ALONE:
            out = render_concept_image(folder, rng, size, placement)
        else:
            out = render_random_image(rng, size)
        write_bytes(Path(root_s) / folder / f"{index}.png", encode(out.image, "PNG"))
    return len(items)


def _clear_folders(root: Path) -> None:
    for folder in root.iterdir():
        if folder.is_dir() and (folder.name in DRAW_ALONE or re.fullmatch(_RANDOM.format(r"\d+"), folder.name)):
            shutil.rmtree(folder)
    (root / LISTING).unlink(missing_ok=True)


def generate_concept_sets(
    out_dir: Path | str,
    *,
    per_concept: int = 200,
    random_sets: int = 20,
    size: int = 128,
    seed: int = 0,
    placement: str = "scene",
    workers: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> ConceptSetsReport:
    """Write ``per_concept`` PNGs of each prop kind (drawn as ``placement`` says) to ``out_dir/<kind>/<n>.png`` and
    as many random ones to each of ``out_dir/random_<k>/`` (k below ``random_sets``; a concept test makes a run
    per folder), listed in ``out_dir/concepts.json``.

    The same ``seed`` gives byte-identical files for any ``workers``; an earlier set in ``out_dir`` is
    replaced only with ``overwrite``.
    """
    per_concept = _check_int("per_concept", per_concept, 1)
    random_sets = _check_int("random_sets", random_sets, 0)
    size = _check_int("size", size, 64, 2048)
    seed = _check_int("seed", seed, 0)
    n_workers = (os.cpu_count() or 1) if workers is None else _check_int("workers", workers, 1)
    root = Path(out_dir).expanduser()
    concepts = tuple(DRAW_ALONE)
    randoms = tuple(_RANDOM.format(k) for k in range(random_sets))
    if placement not in PLACEMENTS:
        raise UsageError(f"unknown placement {placement!r}; expected one of: {', '.join(PLACEMENTS)}")
    meta = {
        "format": _FORMAT,
        "version": 1,
        "seed": seed,
        "per_concept": per_concept,
        "size": size,
        "placement": placement,
    }
    claim_folder(root, meta, _clear_folders, "concept image set", overwrite=overwrite)
    for folder in concepts + randoms:
        (root / folder).mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    items = [(folder, n) for folder in concepts + randoms for n in range(per_concept)]
    n_workers, chunks = share_out(items, n_workers)
    jobs: list[Job] = [(str(root), size, seed, placement, chunk) for chunk in chunks]
    run_jobs(_render_job, jobs, n_workers, total=len(items), desc="concept images", progress=progress)

    write_json(root / LISTING, {**meta, "concepts": list(concepts), "random": list(randoms)})
    write_marker(root, meta, complete=True)
    seconds = time.perf_counter() - start
    return ConceptSetsReport(
        root, concepts, randoms, per_concept, seconds, len(items) / seconds if seconds > 0 else 0.0
    )


__all__ = [
    "DRAW_ALONE",
    "LISTING",
    "PLACEMENTS",
    "ConceptSetsReport",
    "concept_rng",
    "generate_concept_sets",
    "render_concept_image",
    "render_random_image",
]
