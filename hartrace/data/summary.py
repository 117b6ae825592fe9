"""``hartrace data summary``: what a dataset holds, in numbers, a chart and a sample grid.

For a video dataset the sizes are frame sizes, frame counts are added, and the
sample grid shows each video's middle frame.
"""

from __future__ import annotations

from pathlib import Path
from statistics import median
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from hartrace.base.errors import UsageError
from hartrace.base.io import save_figure, write_csv, write_json
from hartrace.data.dataset import evidence_mask
from hartrace.data.decode import ImageDecodeError, load_rgb
from hartrace.data.samples import DatasetIndex, Sample


def size_statistics(sizes: list[tuple[int, int]]) -> dict[str, Any]:
    """Min/median/mean/max of widths and heights, so a user can choose ``--image-size``."""
    if not sizes:
        return {"count": 0}
    widths, heights = [w for w, _ in sizes], [h for _, h in sizes]

    def stats(values: list[int]) -> dict[str, float]:
        return {
            "min": min(values),
            "median": median(values),
            "mean": round(sum(values) / len(values), 1),
            "max": max(values),
        }

    return {"count": len(sizes), "width": stats(widths), "height": stats(heights)}


def frame_statistics(counts: list[int]) -> dict[str, Any]:
    """Min/median/mean/max frames per video, so a user can choose ``--clip-length`` and ``--clip-stride``."""
    if not counts:
        return {"count": 0}
    return {
        "count": len(counts),
        "min": min(counts),
        "median": median(counts),
        "mean": round(sum(counts) / len(counts), 1),
        "max": max(counts),
    }


def describe(index: DatasetIndex) -> dict[str, Any]:
    """Everything the summary reports, as plain data (also written as ``summary.json``).

    ``images`` counts a split's samples (videos, for a video dataset) and ``image_size``
    their (frame) sizes; video datasets add ``frames``, the frames per video.
    """
    splits = {}
    for split, samples in index.splits.items():
        sizes = [index.image_sizes[s.path] for s in samples if s.path in index.image_sizes]
        splits[split] = {
            "images": len(samples),
            "labelled": sum(s.label is not None for s in samples),
            "with_evidence": sum(s.mask_path is not None or bool(s.boxes) for s in samples),
            "per_class": index.class_counts(split),
            "image_size": size_statistics(sizes),
        }
        if index.task == "video":
            counts = [index.frame_counts[s.path] for s in samples if s.path in index.frame_counts]
            splits[split]["frames"] = frame_statistics(counts)
    return {
        "root": str(index.root),
        "layout": index.layout,
        "task": index.task,
        "classes": index.classes,
        "split_file": str(index.split_file) if index.split_file else None,
        "splits": splits,
        "skipped": [{"path": index.relative(s.path), "split": s.split, "reason": s.reason} for s in index.skipped],
        "notes": index.notes,
    }


def write_skipped_report(index: DatasetIndex, path: Path) -> Path:
    """The skipped files as CSV (path, split, reason): the list a user fixes their data from."""
    return write_csv(
        path, ["path", "split", "reason"], ((index.relative(s.path), s.split, s.reason) for s in index.skipped)
    )


def plot_class_distribution(index: DatasetIndex, path: Path) -> Path:
    """Horizontal bars of images per class, one colour per labelled split."""
    splits = [s for s in index.splits if any(x.label is not None for x in index.splits[s])]
    n = len(index.classes)
    fig = Figure(figsize=(8, max(3.0, 0.28 * n + 1.2)))
    ax = fig.subplots()
    height = 0.8 / max(1, len(splits))
    y = np.arange(n)
    for i, split in enumerate(splits):
        counts = index.class_counts(split)
        values = [counts[c] for c in index.classes]
        bars = ax.barh(y + i * height - 0.4 + height / 2, values, height=height, label=f"{split} ({sum(values)})")
        ax.bar_label(bars, fontsize=7, padding=2)
    ax.set_yticks(y, index.classes, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"{index.task}s")
    ax.set_title(f"{index.root.name}: {index.task}s per class ({index.layout} layout)")
    ax.set_xlim(0, ax.get_xlim()[1] * 1.08)  # room for the count labels
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return save_figure(fig, path)


#: Charts ``data summary`` can draw of the class distribution.
CHARTS = ("bar", "pie")
#: A pie has at most this many slices: with more classes, the smallest are one slice, "other (k classes)".
PIE_SLICES = 16


def pie_slices(counts: dict[str, int], keep: list[str]) -> tuple[list[str], list[int]]:
    """Slice labels and sizes: the ``keep`` classes in class order, then the rest summed as "other (k classes)"."""
    labels = [c for c in counts if c in keep]
    sizes = [counts[c] for c in labels]
    rest = [c for c in counts if c not in keep]
    if rest:
        labels.append(f"other ({len(rest)} classes)")
        sizes.append(sum(counts[c] for c in rest))
    return labels, sizes


def plot_class_pie(index: DatasetIndex, path: Path) -> Path:
    """:func:`class_pie_figure` saved as a PNG."""
    return save_figure(class_pie_figure(index), path)


def class_pie_figure(index: DatasetIndex) -> Figure:
    """One pie per labelled split, each slice labelled with its class and share. Past :data:`PIE_SLICES` classes
    the smallest (over all splits) share one grey slice, "other (k classes)", so every label stays readable;
    a class keeps its colour in every pie."""
    splits = [s for s in index.splits if any(x.label is not None for x in index.splits[s])]
    totals = {c: sum(index.class_counts(s).get(c, 0) for s in splits) for c in index.classes}
    keep = index.classes
    if len(index.classes) > PIE_SLICES:
        largest = sorted(index.classes, key=lambda c: (-totals[c], index.classes.index(c)))[: PIE_SLICES - 1]
        keep = [c for c in index.classes if c in largest]
    palette = [matplotlib.colormaps["tab20"](i) for i in (*range(14), *range(16, 20))]  # its greys mean "other"
    colours = {c: palette[i % len(palette)] for i, c in enumerate(keep)}
    fig = Figure(figsize=(5.2 * len(splits), 5.4))
    axes = fig.subplots(1, len(splits), squeeze=False)[0]
    for ax, split in zip(axes, splits, strict=True):
        counts = {c: n for c, n in index.class_counts(split).items() if c != "?"}
        labels, sizes = pie_slices(counts, keep)
        total = sum(sizes)
        shown = [(label, size) for label, size in zip(labels, sizes, strict=True) if size > 0]
        wedges, _ = ax.pie(
            [size for _, size in shown],
            colors=[colours.get(label, (0.8, 0.8, 0.8, 1.0)) for label, _ in shown],
            startangle=90,
            counterclock=False,
            wedgeprops={"linewidth": 0.8, "edgecolor": "white"},
        )
        _label_slices(ax, wedges, [f"{label}\n{size / total:.1%}" for label, size in shown])
        ax.set_title(f"{split} ({total} {index.task}s)", fontsize=10, pad=18)
    grouped = (
        f"; the {len(index.classes) - len(keep)} smallest classes grouped" if len(keep) < len(index.classes) else ""
    )
    fig.suptitle(f"{index.root.name}: share of {index.task}s per class ({index.layout} layout{grouped})", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.3 / fig.get_figheight()))
    return fig


#: Slices at least this wide (degrees) are labelled beside them; a pie with a thinner one gets a legend instead.
LABELLED_SLICE_DEGREES = 14


def _label_slices(ax: Any, wedges: list[Any], labels: list[str]) -> None:
    """Each slice's class and share beside it, or, when a slice is too thin for its label to stay clear of its
    neighbours', in a legend under the pie (clockwise from the top, as the slices run)."""
    if min(w.theta2 - w.theta1 for w in wedges) >= LABELLED_SLICE_DEGREES:
        for wedge, label in zip(wedges, labels, strict=True):
            middle = np.deg2rad((wedge.theta1 + wedge.theta2) / 2)
            x, y = float(np.cos(middle)), float(np.sin(middle))
            ax.text(1.08 * x, 1.08 * y, label, ha="left" if x >= 0 else "right", va="center", fontsize=7)
        return
    ax.legend(
        wedges,
        [label.replace("\n", " ") for label in labels],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.02),
        ncol=2,
        fontsize=7,
        frameon=False,
    )


def _pick_examples(samples: list[Sample], n_classes: int, per_class: int) -> list[list[Sample]]:
    by_class: list[list[Sample]] = [[] for _ in range(n_classes)]
    for sample in samples:
        if sample.label is not None:
            by_class[sample.label].append(sample)
    picked = []
    for members in by_class:
        if len(members) <= per_class:
            picked.append(members)
        else:
            step = len(members) / per_class
            picked.append([members[int(i * step)] for i in range(per_class)])
    return picked


def _picture(index: DatasetIndex, sample: Sample) -> tuple[np.ndarray, np.ndarray | None] | None:
    """An image, or a video's middle frame, with its evidence mask (None when it cannot be decoded)."""
    if index.task == "video":
        from hartrace.data.video import VideoDecodeError, load_video_mask, read_video

        middle = index.frame_counts.get(sample.path, 1) // 2
        try:
            frame = read_video(sample.path, [middle])[0]
        except VideoDecodeError:
            return None
        mask = load_video_mask(sample.mask_path) if sample.mask_path is not None else None
        fits = mask is not None and mask.shape[1:] == frame.shape[:2]
        return frame, mask[min(middle, len(mask) - 1)] if fits else None
    try:
        image = load_rgb(sample.path)
    except ImageDecodeError:
        return None
    return np.asarray(image), evidence_mask(sample, image.size)


def plot_sample_grid(index: DatasetIndex, path: Path, per_class: int = 6, split: str = "train") -> Path:
    """A row of example images (videos: middle frames) per class; evidence (masks, person boxes) outlined in yellow."""
    rows = _pick_examples(index.splits.get(split, []), len(index.classes), per_class)
    fig = Figure(figsize=(1.6 * per_class, 1.6 * len(rows)))
    axes = fig.subplots(len(rows), per_class, squeeze=False)
    for row, (name, samples) in enumerate(zip(index.classes, rows, strict=True)):
        for col in range(per_class):
            ax = axes[row][col]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if col == 0:
                ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
            if col >= len(samples):
                continue
            picture = _picture(index, samples[col])
            if picture is None:
                continue
            ax.imshow(picture[0])
            mask = picture[1]
            if mask is not None and mask.any():
                ax.contour(mask, levels=[0.5], colors="yellow", linewidths=0.8)
    what = "middle frames" if index.task == "video" else "examples"
    fig.suptitle(f"{index.root.name}: {split} {what} per class (evidence outlined)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.4 / fig.get_figheight()))
    return save_figure(fig, path, dpi=100)


def summarize(
    index: DatasetIndex, out_dir: str | Path, per_class_examples: int = 6, chart: str = "bar"
) -> dict[str, Any]:
    """Write ``summary.json``, ``class_counts.csv``, ``skipped.csv`` and the two PNGs; return the summary.
    ``chart`` draws the class distribution as bars (counts) or pies (shares, :func:`plot_class_pie`)."""
    if chart not in CHARTS:
        raise UsageError(f"unknown chart {chart!r}; choose one of {', '.join(CHARTS)}")
    out = Path(out_dir)
    summary = describe(index)
    write_csv(
        out / "class_counts.csv",
        ["class", *index.splits],
        ([name, *(index.class_counts(split).get(name, 0) for split in index.splits)] for name in index.classes),
    )
    write_skipped_report(index, out / "skipped.csv")
    summary["outputs"] = {
        "class_distribution": str(
            (plot_class_pie if chart == "pie" else plot_class_distribution)(index, out / "class_distribution.png")
        ),
        "sample_grid": str(plot_sample_grid(index, out / "samples.png", per_class_examples)),
        "class_counts": str(out / "class_counts.csv"),
        "skipped": str(out / "skipped.csv"),
    }
    write_json(out / "summary.json", summary)
    return summary


def format_summary(summary: dict[str, Any], max_skipped: int = 20) -> str:
    """The summary as the text ``hartrace data summary`` prints."""
    lines = [f"dataset   {summary['root']}", f"layout    {summary['layout']}", f"classes   {len(summary['classes'])}"]
    if summary.get("task") == "video":
        lines.append("task      video")
    if summary["split_file"]:
        lines.append(f"split     {summary['split_file']}")
    splits = summary["splits"]
    names = list(splits)
    width = max(len(c) for c in [*summary["classes"], "class"])
    lines.append("")
    lines.append("  ".join([f"{'class':<{width}}", *(f"{n:>7}" for n in names)]))
    per_class = {n: splits[n]["per_class"] for n in names}
    for name in [*summary["classes"], *(["?"] if any("?" in p for p in per_class.values()) else [])]:
        label = "(unlabelled)" if name == "?" else name
        lines.append("  ".join([f"{label:<{width}}", *(f"{per_class[n].get(name, 0):>7}" for n in names)]))
    lines.append("  ".join([f"{'total':<{width}}", *(f"{splits[n]['images']:>7}" for n in names)]))
    lines.append("")
    kind = "frame" if summary.get("task") == "video" else "image"
    for name in names:
        size = splits[name]["image_size"]
        if size["count"]:
            w, h = size["width"], size["height"]
            lines.append(
                f"{name:<5} {kind} size  width {w['min']}-{w['max']} (median {w['median']})  "
                f"height {h['min']}-{h['max']} (median {h['median']})"
            )
        frames = splits[name].get("frames", {})
        if frames.get("count"):
            lines.append(f"{name:<5} frames      {frames['min']}-{frames['max']} per video (median {frames['median']})")
    skipped = summary["skipped"]
    lines.append("")
    lines.append(f"skipped   {len(skipped)} file(s)")
    for item in skipped[:max_skipped]:
        lines.append(f"  {item['path']}  [{item['split']}]  {item['reason']}")
    if len(skipped) > max_skipped:
        lines.append(f"  ... and {len(skipped) - max_skipped} more (see skipped.csv)")
    for note in summary["notes"]:
        lines.append(f"note      {note}")
    for _key, value in summary.get("outputs", {}).items():
        lines.append(f"wrote     {value}")
    return "\n".join(lines)
