"""The audit's report: the method-comparison table, problems in words, the CSVs and three pictures.

Everything here is a pure function of the summary (``audit.json``'s content), the
per-image rows and the worst-explained tiles, so a report can be rewritten, or
checked, without running a model.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from matplotlib.figure import Figure

from hartrace.base.io import save_figure, write_csv, write_json, write_text
from hartrace.render import image_gallery_figure
from hartrace.workflows.audit.types import WORST_PER_METHOD, Tile

PER_IMAGE_COLUMNS = (
    "path",
    "method",
    "true",
    "predicted",
    "probability",
    "pointing_hit_strict",
    "pointing_strict_random",
    "pointing_hit_tolerant",
    "pointing_tolerant_random",
    "energy_inside",
    "energy_random_baseline",
    "deletion_auc",
    "deletion_auc_random",
    "insertion_auc",
    "insertion_auc_random",
    "drop",
    "increase",
    "reliance_spearman",
    "reliance_spearman_random",
)
PER_CLASS_COLUMNS = (
    "method",
    "class",
    "images",
    "with_evidence",
    "hits_strict",
    "pointing_strict",
    "pointing_strict_random",
    "hits_tolerant",
    "pointing_tolerant",
    "pointing_tolerant_random",
    "energy_inside",
    "energy_random_baseline",
    "deletion_auc",
    "deletion_auc_random",
    "insertion_auc",
    "insertion_auc_random",
    "average_drop",
    "average_increase",
    "reliance_spearman",
    "reliance_spearman_random",
    "reliance_images",
)
TABLE_HEADER = (
    "method",
    "pointing game, strict (random)",
    "pointing game within {tolerance} px (random)",
    "energy inside (random)",
    "deletion AUC (random order; lower is better)",
    "insertion AUC (random order; higher is better)",
    "avg drop %",
    "avg increase %",
    "ranks parts as the model relies on them (random)",
    "sanity (final Spearman)",
    "s/image (map alone)",
)
#: A failed sanity check's final Spearman from which the maps are said to "barely change".
BARELY_CHANGE = 0.6
#: One marker per method, so curves that lie on top of each other can still be told apart.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
#: Tile side in ``worst.png``'s pictures: small inputs are enlarged so the evidence outline stays visible.
TILE_SIDE = 224
#: Characters per caption line in ``worst.png``: longer lines would run into the next tile's.
CAPTION_WIDTH = 42


def _pair(value: float | None, baseline: float | None, percent: bool) -> str:
    if value is None:
        return "-"
    shown = (lambda v: f"{v:.1%}") if percent else (lambda v: f"{v:.3f}")
    return f"{shown(value)} ({shown(baseline)})" if baseline is not None else shown(value)


def _sanity_cell(sanity: Mapping[str, Any]) -> str:
    if sanity.get("passed") is None:
        return "not run"
    return f"{'pass' if sanity['passed'] else 'FAIL'} ({sanity['final_spearman']:.2f})"


def table_header(summary: Mapping[str, Any]) -> list[str]:
    """:data:`TABLE_HEADER` with the audit's tolerance filled in."""
    return [column.format(tolerance=summary["tolerance"]) for column in TABLE_HEADER]


def table_rows(summary: Mapping[str, Any]) -> list[list[str]]:
    """One row of cells per method (labelled with its layers where it has its own), in :data:`TABLE_HEADER`'s
    order."""
    rows = []
    for method, m in summary["methods"].items():
        rows.append(
            [
                method,
                _pair(m["pointing_strict"], m["pointing_strict_random"], True),
                _pair(m["pointing_tolerant"], m["pointing_tolerant_random"], True),
                _pair(m["energy_inside"], m["energy_random_baseline"], True),
                _pair(m["deletion_auc"], m["deletion_auc_random"], False),
                _pair(m["insertion_auc"], m["insertion_auc_random"], False),
                "-" if m["average_drop"] is None else f"{100 * m['average_drop']:.1f}",
                "-" if m["average_increase"] is None else f"{100 * m['average_increase']:.1f}",
                _pair(m.get("reliance_spearman"), m.get("reliance_spearman_random"), False),
                _sanity_cell(m["sanity"]),
                f"{m['seconds_per_image']:.3f} ({m['map_seconds_per_image']:.3f})"
                if m.get("map_seconds_per_image") is not None
                else f"{m['seconds_per_image']:.3f}",
            ]
        )
    return rows


def format_table(summary: Mapping[str, Any]) -> str:
    """The method-comparison table in markdown (it reads as plain text on a terminal too)."""
    lines = ["| " + " | ".join(table_header(summary)) + " |", "|" + "|".join(["---"] * len(TABLE_HEADER)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(summary)]
    return "\n".join(lines)


def method_problems(method: str, m: Mapping[str, Any], tolerance: int) -> list[str]:
    """Each check ``method`` fails, in one line of words: what went wrong and what it means (``tolerance``: the
    tolerant pointing game's, in pixels)."""
    problems = []
    sanity = m.get("sanity") or {}
    if sanity.get("passed") is False:
        final, threshold = sanity["final_spearman"], sanity.get("threshold", 0.3)
        if final >= BARELY_CHANGE:
            problems.append(
                f"{method}: maps barely change when the weights are randomised (Spearman {final:.2f} after randomising "
                f"every layer): they do not show what this model learnt"
            )
        else:
            problems.append(
                f"{method}: maps still resemble the originals when the weights are randomised "
                f"(Spearman {final:.2f} after "
                f"randomising every layer; a pass needs below {threshold:.1f}): "
                f"they show the image's structure more than "
                f"what this model learnt"
            )
    pointing = {"strict": "on the evidence", "tolerant": f"within {tolerance} px of the evidence"}
    for kind, where in pointing.items() if tolerance > 0 else [("strict", pointing["strict"])]:
        score, chance = m.get(f"pointing_{kind}"), m.get(f"pointing_{kind}_random")
        if score is not None and chance is not None and score <= chance:
            problems.append(
                f"{method}: its peak lands {where} no more often than a random map's ({score:.1%} vs "
                f"{chance:.1%}): it does not point at the action"
            )
    if m.get("energy_inside") is not None and m["energy_inside"] <= m["energy_random_baseline"]:
        problems.append(
            f"{method}: no more of its mass lies on the evidence than a random map's ({m['energy_inside']:.1%} vs "
            f"{m['energy_random_baseline']:.1%})"
        )
    if m.get("deletion_auc") is not None and m["deletion_auc"] >= m["deletion_auc_random"]:
        problems.append(
            f"{method}: deleting the pixels it ranks highest lowers the score no faster than deleting them "
            f"in a random order "
            f"(deletion AUC {m['deletion_auc']:.3f} vs {m['deletion_auc_random']:.3f}): "
            f"its ranking is not what the model relies on"
        )
    if m.get("reliance_spearman") is not None and m["reliance_spearman"] <= m["reliance_spearman_random"]:
        problems.append(
            f"{method}: it ranks an image's parts no closer to how much the model relies on them (measured by "
            f"redrawing the image without each) than a random map does (Spearman {m['reliance_spearman']:.2f} vs "
            f"{m['reliance_spearman_random']:.2f})"
        )
    if m.get("insertion_auc") is not None and m["insertion_auc"] <= m["insertion_auc_random"]:
        problems.append(
            f"{method}: inserting the pixels it ranks highest raises the score no faster than inserting them "
            f"in a random order "
            f"(insertion AUC {m['insertion_auc']:.3f} vs {m['insertion_auc_random']:.3f})"
        )
    return problems


def all_problems(summary: Mapping[str, Any]) -> list[str]:
    return [
        line for method, m in summary["methods"].items() for line in method_problems(method, m, summary["tolerance"])
    ]


def markdown_report(summary: Mapping[str, Any]) -> str:
    """``audit.md``: what was audited, the table, every failed check in words, and how to read the columns."""
    s = summary
    evidence = (
        f"{s['with_evidence']} with evidence" if s["with_evidence"] else "none with evidence, so no localisation scores"
    )
    problems = all_problems(s)
    lines = [
        f"# Explanation audit: {Path(s['run']).name}, {s['split']} split",
        "",
        f"{s['images']} images ({evidence}); maps for each image's predicted class at `{s['layer']}`"
        f"{_own_layers(s)}; pointing game strict (0 px) and within {s['tolerance']} px; perturbation curves in "
        f"{s['steps']} steps towards a blurred image; sanity check on {s['cascade_images']} images; "
        f"{s['seconds']:.0f} s in all.",
        "",
        format_table(s),
        "",
        "## Problems",
        "",
        *([f"- {line}" for line in problems] or ["Every method passes every check."]),
        "",
        *_evidence_section(s),
        "## How to read it",
        "",
        "- **pointing game, strict**: how often the map's peak falls on the evidence itself; "
        "in brackets, the chance that a uniformly random map's peak does (the evidence's share of the image).",
        f"- **pointing game within {s['tolerance']} px**: the same, counting a peak up to {s['tolerance']} px "
        "from the evidence as a hit (the usual protocol, Zhang et al. 2016); a margin also widens a random map's "
        "target, so read it beside its own baseline.",
        "- **energy inside**: the share of the map's mass on the evidence; "
        "a random map puts the evidence's share of the image there.",
        "- **deletion AUC**: the predicted class's probability as the pixels the map ranks highest "
        "are blurred away first, averaged over the curve; lower means the map found what the model relies on. "
        "In brackets, the same in a random order.",
        "- **insertion AUC**: the probability as those pixels are put back into a blurred image, most important first; "
        "higher is better.",
        "- **avg drop / increase**: the image multiplied by the map: the mean relative drop of the probability, "
        "and how often it rises instead.",
        "- **ranks parts as the model relies on them**: on a set written by `hartrace synth`, each image is redrawn "
        "without each of its parts (head, torso, arms, legs, each prop, the wall clutter); the drop of the predicted "
        "class's probability is the model's measured reliance on that part. Per image, the Spearman correlation "
        "between the map's mass on each part and that reliance, averaged over the images with at least three parts; "
        "in brackets a uniformly random map's, whose mass follows each part's area.",
        "- **sanity**: the model's layers are randomised from the output down and the maps recomputed; "
        "a method passes when its "
        f"final maps' Spearman rank correlation with the originals is below {_threshold(s):.1f}.",
        "- **s/image**: the method's maps and all its checks, per image; in brackets the maps alone. The random-order "
        f"curves, shared by every method, took {s.get('random_order_seconds', 0.0):.1f} s more.",
        "",
        "Files: `audit.json`, `per_image.csv`, `per_class.csv`, `curves.png`, `cascade.png`, `worst.png`"
        + (
            "; `reliance.json` and `reliance.csv` (per image and part: the reliance and each map's mass), "
            "`counterfactuals.png`."
            if s.get("counterfactual", {}).get("ran")
            else "."
        ),
        "",
    ]
    return "\n".join(lines)


def counterfactual_lines(summary: Mapping[str, Any]) -> list[str]:
    """The counterfactual check in two lines (none where it did not run): each method's rank agreement with the
    measured reliance beside a random map's, and how often removing the evidence changes the prediction."""
    counterfactual = summary.get("counterfactual") or {}
    if not counterfactual.get("ran"):
        return []
    ranked = [(label, m) for label, m in summary["methods"].items() if m.get("reliance_spearman") is not None]
    lines = []
    if ranked:
        random = ranked[0][1]["reliance_spearman_random"]
        lines.append(
            "ranks an image's parts as the model relies on them (Spearman with the drop when each is removed): "
            + ", ".join(f"{label} {m['reliance_spearman']:.2f}" for label, m in ranked)
            + f" (random map {random:.2f})"
        )
    overall = counterfactual["evidence"]["overall"]
    if overall["with_evidence"]:
        lines.append(
            f"removing the evidence changes the prediction on {overall['changes_prediction']:.0%} of "
            f"{overall['with_evidence']} images (mean probability drop {overall['probability_drop']:.2f})"
        )
    return lines


def _evidence_section(summary: Mapping[str, Any]) -> list[str]:
    """``## Does the model use the evidence?``: per class, how often redrawing the images without their evidence
    changes the prediction (only where the counterfactual check ran)."""
    counterfactual = summary.get("counterfactual") or {}
    if not counterfactual.get("ran"):
        return []
    evidence = counterfactual["evidence"]
    rows = [("all", evidence["overall"]), *evidence["per_class"].items()]
    return [
        "## Does the model use the evidence?",
        "",
        "Each image redrawn without all of its evidence (the parts the evidence masks mark): how often the "
        "prediction changes, and the mean drop of the predicted class's probability.",
        "",
        "| class | images with evidence | prediction changes | probability drop |",
        "|---|---|---|---|",
        *(
            f"| {name} | {row['with_evidence']} | "
            f"{'-' if row['changes_prediction'] is None else format(row['changes_prediction'], '.0%')} | "
            f"{'-' if row['probability_drop'] is None else format(row['probability_drop'], '.2f')} |"
            for name, row in rows
        ),
        "",
    ]


def _own_layers(summary: Mapping[str, Any]) -> str:
    """``" (layercam@layer3+layer4: at layer3 and layer4, ...)"``: the methods whose maps come from other layers."""
    own = [label for label in summary["methods"] if "@" in label]
    if not own:
        return ""
    return f" ({', '.join(own)}: at the layers named after @, several averaged as `explain` fuses them)"


def _threshold(summary: Mapping[str, Any]) -> float:
    return next(
        (m["sanity"]["threshold"] for m in summary["methods"].values() if m["sanity"].get("threshold") is not None), 0.3
    )


def curves_figure(summary: Mapping[str, Any]) -> Figure:
    """Mean deletion and insertion curves, one line per method, beside the random-order curve
    (the same for every method)."""
    fig = Figure(figsize=(11, 4))
    axes = fig.subplots(1, 2)
    titles = {
        "deletion": "deletion: most important pixels blurred first\n(lower is better)",
        "insertion": "insertion: most important pixels restored first\n(higher is better)",
    }
    xlabels = {"deletion": "fraction of pixels blurred", "insertion": "fraction of pixels restored"}
    methods = summary["methods"]
    for ax, mode in zip(axes, ("deletion", "insertion"), strict=True):
        for n, (method, m) in enumerate(methods.items()):
            x = m["curves"]["x"]
            ax.plot(
                x,
                m["curves"][mode],
                color=f"C{n}",
                lw=2,
                marker=MARKERS[n % len(MARKERS)],
                ms=4,
                markevery=max(1, (len(x) - 1) // 10),
                label=f"{method} (AUC {m[f'{mode}_auc']:.3f})",
            )
        if methods:
            first = next(iter(methods.values()))
            ax.plot(
                first["curves"]["x"],
                first["curves"][f"{mode}_random"],
                color="black",
                ls="--",
                lw=1.5,
                label=f"random order (AUC {first[f'{mode}_auc_random']:.3f})",
            )
        ax.set(xlabel=xlabels[mode], ylabel="probability of the predicted class", xlim=(0, 1), ylim=(0, 1.02))
        ax.set_title(titles[mode], fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"faithfulness on {summary['images']} {summary['split']} images", fontsize=11)
    fig.tight_layout()
    return fig


def cascade_figure(summary: Mapping[str, Any]) -> Figure:
    """Spearman correlation with the original maps as the layers are randomised, top down; the pass threshold dashed."""
    fig = Figure(figsize=(8, 4.2))
    ax = fig.subplots()
    labels: list[str] = []
    methods = summary["methods"]
    for n, (method, m) in enumerate(methods.items()):
        cascade = m["sanity"].get("cascade") or []
        if not cascade:
            continue
        x = np.arange(len(cascade)) + 0.06 * (n - (len(methods) - 1) / 2)  # side by side, so the error bars stay apart
        mean = np.array([np.nan if c["spearman_mean"] is None else c["spearman_mean"] for c in cascade], dtype=float)
        std = np.array([0.0 if c["spearman_std"] is None else c["spearman_std"] for c in cascade], dtype=float)
        verdict = "pass" if m["sanity"]["passed"] else "FAIL"
        ax.errorbar(
            x,
            mean,
            yerr=std,
            fmt="-" + MARKERS[n % len(MARKERS)],
            ms=4,
            lw=1.8,
            elinewidth=0.8,
            capsize=2,
            color=f"C{n}",
            label=f"{method} ({verdict}, final {m['sanity']['final_spearman']:.2f})",
        )
        if len(cascade) > len(labels):
            labels = [c["randomised"] for c in cascade]
    threshold = _threshold(summary)
    ax.axhline(threshold, color="grey", ls="--", lw=1, label=f"pass threshold ({threshold:.1f})")
    if labels:
        ticks = ["original" if i == 0 else f"+ {name}" for i, name in enumerate(labels)]
        ax.set_xticks(range(len(labels)), ticks, rotation=30, ha="right", fontsize=8)
        ax.legend(fontsize=8, loc="upper right")
    else:
        ax.text(
            0.5, 0.5, "no sanity check was run (--cascade-images 0)", ha="center", va="center", transform=ax.transAxes
        )
    ax.set(
        ylabel="Spearman with the original maps",
        ylim=(min(-0.1, ax.get_ylim()[0]), 1.05),
        xlabel="layers randomised, cumulatively from the output down",
    )
    ax.set_title(
        f"sanity check: cascading randomisation on {summary['cascade_images']} images (mean ± std per image)",
        fontsize=10,
    )
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def tile_picture(tile: Tile, side: int = TILE_SIDE) -> np.ndarray:
    """The overlay, enlarged to ``side``, with the evidence outlined in white and the map's peak marked by a cross."""
    from hartrace.render import cam_overlay

    picture = cv2.resize(cam_overlay(tile.image, tile.cam, alpha=0.5), (side, side), interpolation=cv2.INTER_LINEAR)
    if tile.mask is not None:
        mask = cv2.resize(tile.mask.astype(np.uint8), (side, side), interpolation=cv2.INTER_NEAREST)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(picture, contours, -1, (255, 255, 255), 2)
    y, x = np.unravel_index(int(np.argmax(tile.cam)), tile.cam.shape)
    scale = side / tile.cam.shape[0], side / tile.cam.shape[1]
    centre = (int((x + 0.5) * scale[1]), int((y + 0.5) * scale[0]))
    cv2.drawMarker(picture, centre, (0, 0, 0), cv2.MARKER_CROSS, 22, 5)
    cv2.drawMarker(picture, centre, (255, 255, 255), cv2.MARKER_CROSS, 20, 2)
    return picture


def worst_figure(tiles: Sequence[Tile], methods: Sequence[str], per_method: int, title: str) -> Figure:
    """A row per method of its worst-explained images, captioned with class, method and the score
    that put them there."""
    images: list[np.ndarray] = []
    captions: list[str] = []
    blank = np.full((TILE_SIDE, TILE_SIDE, 3), 255, dtype=np.uint8)
    for method in methods:
        mine = [t for t in tiles if t.method == method][:per_method]
        for tile in mine:
            images.append(tile_picture(tile))
            named = tile.true if tile.predicted == tile.true else f"{tile.true} (pred {tile.predicted})"
            lines = (named, f"{method}:", tile.reason)
            captions.append("\n".join(textwrap.fill(line, CAPTION_WIDTH) for line in lines))
        images += [blank] * (per_method - len(mine))
        captions += [""] * (per_method - len(mine))
    if not any(captions):
        return image_gallery_figure([], [], title=title)
    fig = image_gallery_figure(images, captions, columns=per_method, title=title, tile=2.6)
    most = max(caption.count("\n") for caption in captions)
    fig.set_figheight(fig.get_figheight() + 0.12 * most * len(methods))  # room for the captions' extra lines
    fig.tight_layout()
    return fig


def per_class_rows(summary: Mapping[str, Any]) -> list[list[Any]]:
    return [
        [method, name, *(row[c] if row[c] is not None else "" for c in PER_CLASS_COLUMNS[2:])]
        for method, m in summary["methods"].items()
        for name, row in m["per_class"].items()
    ]


def write_report(
    out_dir: Path, summary: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], tiles: Sequence[Tile]
) -> list[Path]:
    """Write ``audit.json``, ``audit.md``, ``per_image.csv``, ``per_class.csv``, ``curves.png``, ``cascade.png``
    and ``worst.png``."""

    out_dir = Path(out_dir)
    methods = list(summary["methods"])
    by_evidence = summary["with_evidence"] > 0
    why = "missed strict pointing game first, then least energy inside" if by_evidence else "highest deletion AUC first"
    legend = "white outline: evidence, cross: the map's peak" if by_evidence else "cross: the map's peak"
    title = f"worst-explained {summary['split']} images per method ({why})\n{legend}"
    return [
        write_json(out_dir / "audit.json", summary),
        write_text(out_dir / "audit.md", markdown_report(summary)),
        write_csv(out_dir / "per_image.csv", PER_IMAGE_COLUMNS, ([row[c] for c in PER_IMAGE_COLUMNS] for row in rows)),
        write_csv(out_dir / "per_class.csv", PER_CLASS_COLUMNS, per_class_rows(summary)),
        save_figure(curves_figure(summary), out_dir / "curves.png"),
        save_figure(cascade_figure(summary), out_dir / "cascade.png"),
        save_figure(worst_figure(tiles, methods, WORST_PER_METHOD, title), out_dir / "worst.png"),
    ]
