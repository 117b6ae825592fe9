"""Concept tests (TCAV; Kim et al., "Interpretability Beyond Feature Attribution", ICML 2018) through captum.

Does class k's score rise when a layer's activations move towards a concept (a bicycle, a phone)?
A linear classifier separates the layer's activations for the concept's images from those of a
random set; its unit normal is the concept activation vector (CAV). Captum scores each CAV two
ways: ``sign_count``, the paper's TCAV score, the share of class-k images whose logit gradient at
the layer points along the CAV; and ``magnitude``, the mean of that directional derivative.

One CAV can be luck, so the paper repeats it against several random sets. The concept is tested
against each random set, and its runs all share its one folder of images: that folder's chance
leanings move all of its scores together. So the null is made the same way: each random set in turn
poses as the concept against all the other random sets, and its mean score is one draw of what a
folder with no concept in it scores. The concept's mean is compared with those means (a two-sided
prediction-interval t-test: is it outside what one more random folder would score?). The paper's
design, a t-test of the concept's runs against one random counterpart's runs, reads either folder's
leanings as an effect. With R random sets that is R concept runs and R (R - 1) / 2 random pairs.

The test reads the magnitude by default. Where the class's gradients point the same way in every
image (at the last stage of a network that pools and then classifies they are identical), each
CAV's sign count is 0 or 1, so a folder's mean sign count only ranks its direction among the others
and is spread evenly from 0 to 1: no concept can then stand out at p < 0.05, however strongly the
class depends on it. The magnitude keeps how far the logit moves. Both tests are reported.
The p-values are Bonferroni-corrected for the number of layers tested unless asked not to.
"""

from __future__ import annotations

import functools
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from hartrace.attribution.featvis import frozen
from hartrace.attribution.pixel import no_inplace_relu
from hartrace.base.errors import UsageError
from hartrace.base.progress import Progress, progress_bar
from hartrace.probe.layers import resolve_layers

__all__ = [
    "CAV_KINDS",
    "STATISTICS",
    "ConceptImages",
    "LayerTest",
    "TcavResult",
    "Verdict",
    "linear_concept_classifier",
    "significance",
    "tcav_test",
]

#: What a CAV is a direction in: the paper's flattened activations, or channel space (the same at every position).
CAV_KINDS = ("flat", "channel")
#: What the significance test compares: captum's mean directional derivative, or its sign count (the TCAV score).
STATISTICS = ("magnitude", "sign_count")
#: CAVs trained per call to captum, so a long test shows its progress.
CAVS_PER_STEP = 8
#: Share of each concept's activations held out to measure the CAV's accuracy (captum's default too).
HELD_OUT = 0.33


@dataclass(frozen=True)
class ConceptImages:
    """A concept's example images, as model inputs ``[N, 3, H, W]`` (normalised like the model's data)."""

    name: str
    images: torch.Tensor

    def __post_init__(self) -> None:
        if self.images.dim() != 4 or self.images.shape[0] < 2:
            raise UsageError(
                f"concept {self.name!r} needs at least 2 images [N, C, H, W], got {tuple(self.images.shape)}"
            )


def linear_concept_classifier(seed: int = 0, channels: int | None = None) -> Any:
    """A captum ``Classifier``: scikit-learn's L2-regularised logistic regression (one of the paper's two linear
    models) on the layer's activations, trained to convergence on a seeded stratified split, so the CAVs repeat
    run to run (captum's default, an SGD stopped early, splits with the global ``random.shuffle``). Converged,
    its intercept balances the two sides, so the CAV does not lean along the mean activation, which is far from
    zero after a ReLU. The CAV of each concept is the unit normal pointing to its side.

    ``channels``: the layer's channel count, for a CAV in channel space: the classifier sees each image's
    activations averaged over positions, and its normal is spread evenly over every position of the flattened
    activations. Such a CAV means "these channels, wherever they fire", so a concept learnt from a phone
    anywhere in a picture applies to a phone held at the ear; the paper's flat CAV (None) is tied to the
    positions where the concept's images showed it.
    """
    from captum.concept import Classifier
    from sklearn.linear_model import LogisticRegression

    def features(x: np.ndarray) -> np.ndarray:
        return x if channels is None else x.reshape(len(x), channels, -1).mean(2)

    class LinearConceptClassifier(Classifier):  # type: ignore[misc]
        def __init__(self) -> None:
            self.model: LogisticRegression | None = None
            self.positions = 1

        def train_and_eval(self, dataloader: Any, **_: Any) -> dict[str, torch.Tensor]:
            batches = list(dataloader)
            flat = torch.cat([b[0] for b in batches]).detach().float().cpu().numpy()
            if channels is not None and flat.shape[1] % channels:
                raise UsageError(f"activations of {flat.shape[1]} values do not split into {channels} channels")
            self.positions = 1 if channels is None else flat.shape[1] // channels
            x = features(flat)
            y = torch.cat([b[1] for b in batches]).cpu().numpy()
            rng = np.random.default_rng(seed)
            test = np.zeros(len(y), dtype=bool)
            for label in np.unique(y):
                members = rng.permutation(np.flatnonzero(y == label))
                test[members[: int(HELD_OUT * len(members))]] = True
            self.model = LogisticRegression(max_iter=1000).fit(x[~test], y[~test])
            accuracy = float((self.model.predict(x[test]) == y[test]).mean()) if test.any() else float("nan")
            return {"accs": torch.tensor(accuracy)}

        def weights(self) -> torch.Tensor:
            assert self.model is not None, "train_and_eval first"
            normal = torch.from_numpy(self.model.coef_[0]).float()
            if channels is not None:  # the same direction at every position (unit norm after flattening)
                normal = normal[:, None].expand(-1, self.positions).reshape(-1)
            normal = normal / normal.norm().clamp(min=1e-12)
            return torch.stack([-normal, normal])  # one row per class, in classes() order

        def classes(self) -> list[int]:
            assert self.model is not None, "train_and_eval first"
            return [int(c) for c in self.model.classes_]

    return LinearConceptClassifier()


def significance(concept_mean: float, random_means: Sequence[float]) -> tuple[float, float]:
    """Two-sided prediction-interval t-test: is ``concept_mean`` outside what one more draw from the population
    of ``random_means`` would be? ``t = (c - mean) / (sd * sqrt(1 + 1 / n))`` with ``n - 1`` degrees of freedom;
    ``(t, p)``. Random means without spread give ``(0, 1)`` for an equal concept mean, ``(+-inf, 0)`` otherwise."""
    from scipy.stats import t as student

    means = np.asarray(random_means, dtype=float)
    if len(means) < 2:
        raise UsageError(f"a significance test needs at least 2 random means, got {len(means)}")
    gap = float(concept_mean) - float(means.mean())
    spread = float(means.std(ddof=1)) * float(np.sqrt(1 + 1 / len(means)))
    if spread == 0:
        return (0.0, 1.0) if gap == 0 else (float(np.sign(gap)) * float("inf"), 0.0)
    t = gap / spread
    return t, float(2 * student.sf(abs(t), df=len(means) - 1))


@dataclass(frozen=True)
class Verdict:
    """One statistic's test of the concept's mean against the random folders' means."""

    t: float
    p: float
    p_corrected: float
    significant: bool


@dataclass
class LayerTest:
    """One layer's runs and verdicts: ``concept_scores[i]`` is the TCAV score (sign count) of the concept against
    random set ``i``; ``random_scores[i]`` the mean score of random set ``i`` posing as the concept against every
    other random set (its magnitudes and accuracies likewise averaged). ``tests`` holds both statistics' tests;
    ``statistic`` names the one the verdict reads."""

    layer: str
    statistic: str
    concept_scores: list[float]
    random_scores: list[float]
    concept_magnitudes: list[float]
    random_magnitudes: list[float]
    concept_accuracy: list[float]  # held-out accuracy of each concept CAV
    random_accuracy: list[float]
    saturated: float  # share of the random runs (each side of each pair) whose sign count is exactly 0 or 1
    tests: dict[str, Verdict]

    @property
    def verdict(self) -> Verdict:
        return self.tests[self.statistic]

    def summary(self) -> dict[str, Any]:
        def stats(values: list[float]) -> tuple[float, float]:
            return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0

        concept_mean, concept_std = stats(self.concept_scores)
        random_mean, random_std = stats(self.random_scores)
        concept_magnitude, concept_magnitude_std = stats(self.concept_magnitudes)
        random_magnitude, random_magnitude_std = stats(self.random_magnitudes)
        t = self.verdict.t
        return {
            "layer": self.layer,
            "statistic": self.statistic,
            "concept_mean": concept_mean,
            "concept_std": concept_std,
            "random_mean": random_mean,
            "random_std": random_std,
            "concept_magnitude": concept_magnitude,
            "concept_magnitude_std": concept_magnitude_std,
            "random_magnitude": random_magnitude,
            "random_magnitude_std": random_magnitude_std,
            "saturated": self.saturated,
            "concept_cav_accuracy": float(np.nanmean(self.concept_accuracy)),
            "random_cav_accuracy": float(np.nanmean(self.random_accuracy)),
            "direction": "above random" if t > 0 else "below random" if t < 0 else "as random",
            **asdict(self.verdict),
            **{f"{name}_p_corrected": test.p_corrected for name, test in self.tests.items()},
        }


@dataclass
class TcavResult:
    """A concept tested for one class at several layers."""

    concept: str
    randoms: list[str]  # the random sets: the concept is tested against each; each poses against all the others
    target: int
    inputs: int  # class images scored
    alpha: float
    correction: str  # "bonferroni over N layers" or "none"
    layers: list[LayerTest] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "layers": [{**asdict(t), **t.summary()} for t in self.layers]}


@functools.cache
def _tcav_once_per_concept() -> type:
    """captum's ``TCAV``, computing each concept's activations at a layer once. Its ``load_cavs`` asks
    ``AV.exists`` with the layer and the concept's identifier swapped, so it never finds them and every
    experimental set runs both its concepts' images through the model again: with R random sets, R (R + 1)
    passes over a folder instead of R + 1, most of a test's time."""
    from captum._utils.av import AV
    from captum.concept import TCAV, Concept

    class TcavOncePerConcept(TCAV):  # type: ignore[misc]
        def generate_activations(self, concept_layers: dict[Concept, list[str]]) -> None:
            missing = {
                concept: [
                    layer for layer in layers if not AV.exists(self.save_path, self.model_id, concept.identifier, layer)
                ]
                for concept, layers in concept_layers.items()
            }
            super().generate_activations({concept: layers for concept, layers in missing.items() if layers})

    return TcavOncePerConcept


def _channels(model: nn.Module, layers: Sequence[str], input_shape: Sequence[int]) -> dict[str, int | None]:
    """Each layer's channel count (a layer without channel maps gets a flat CAV: None)."""
    from hartrace.probe.layers import measure_output_shapes

    shapes = measure_output_shapes(model, input_shape)
    return {layer: shapes[layer][1] if len(shapes[layer]) == 4 else None for layer in layers}


def _loader(images: torch.Tensor, batch_size: int) -> torch.utils.data.DataLoader[torch.Tensor]:
    return torch.utils.data.DataLoader(images, batch_size=batch_size)  # type: ignore[arg-type]


def tcav_test(
    model: nn.Module,
    inputs: torch.Tensor,
    target: int,
    concept: ConceptImages,
    randoms: Sequence[ConceptImages],
    layers: Sequence[str],
    *,
    alpha: float = 0.05,
    bonferroni: bool = True,
    seed: int = 0,
    batch_size: int = 32,
    cav: str = "flat",
    statistic: str = "magnitude",
    progress: Progress = False,
) -> TcavResult:
    """Test ``concept`` for class ``target`` on ``inputs`` (that class's images, normalised) at each of ``layers``.

    ``cav``: ``"flat"`` (the paper's, one weight per activation) or ``"channel"`` (a direction in channel space,
    the same at every position; see :func:`linear_concept_classifier`). ``statistic``: what the verdict tests,
    ``"magnitude"`` (captum's mean directional derivative) or ``"sign_count"`` (the TCAV score); both are reported.
    ``progress`` counts the CAVs trained, the bulk of the time.

    The concept is tested against each of ``randoms``, and each random set against every other one for the
    null (one CAV per pair gives both sides' scores). The model
    runs in eval mode without weight gradients, with in-place ReLUs off (captum's hooks need them off);
    everything is restored after. CAVs and activations live in a temporary folder, never reused.
    """
    if len(randoms) < 3:
        raise UsageError(
            f"a concept test needs at least 3 random sets (each poses as the concept against the next), "
            f"got {len(randoms)}"
        )
    resolve_layers(model, list(layers))
    if inputs.dim() != 4 or inputs.shape[0] == 0:
        raise UsageError(f"a concept test needs the class's images [N, C, H, W], got {tuple(inputs.shape)}")
    if not 0 < alpha < 1:
        raise UsageError(f"alpha must be between 0 and 1, got {alpha}")
    if cav not in CAV_KINDS:
        raise UsageError(f"unknown CAV kind {cav!r}; expected one of: {', '.join(CAV_KINDS)}")
    if statistic not in STATISTICS:
        raise UsageError(f"unknown statistic {statistic!r}; expected one of: {', '.join(STATISTICS)}")
    from captum.concept import Concept

    device = next(iter(model.parameters()), torch.empty(0)).device

    def as_concept(index: int, images: ConceptImages) -> Concept:
        return Concept(index, images.name, _loader(images.images.to(device), batch_size))

    tested = as_concept(0, concept)
    others = [as_concept(i + 1, r) for i, r in enumerate(randoms)]
    pairs = [(k, j) for k in range(len(others)) for j in range(k + 1, len(others))]
    sets = [[tested, r] for r in others] + [[others[k], others[j]] for k, j in pairs]
    keys = ["-".join(str(c.id) for c in pair) for pair in sets]
    layers = list(dict.fromkeys(layers))
    totals = {key: {layer: torch.zeros(2, 2) for layer in layers} for key in keys}  # [sign_count, magnitude] x 2
    with (
        tempfile.TemporaryDirectory(prefix="hartrace-tcav-") as folder,
        frozen(model),
        no_inplace_relu(model),
        warnings.catch_warnings(),
        progress_bar(total=len(sets) * len(layers), desc="training CAVs", enabled=progress, unit="CAV") as bar,
    ):
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="captum")  # its own numpy.core use
        channels = _channels(model, layers, (1, *inputs.shape[1:])) if cav == "channel" else dict.fromkeys(layers)
        accuracy: dict[str, dict[str, float]] = {key: {} for key in keys}
        for number, layer in enumerate(layers):  # one interpreter per layer: each layer's classifier knows its channels
            interpreter = _tcav_once_per_concept()(
                model,
                [layer],
                model_id="model",
                classifier=linear_concept_classifier(seed, channels[layer]),
                save_path=f"{folder}/{number}/",
            )
            for start in range(0, len(sets), CAVS_PER_STEP):  # trained (and saved) a few at a time, to show progress
                interpreter.compute_cavs(sets[start : start + CAVS_PER_STEP])
                bar.update(len(sets[start : start + CAVS_PER_STEP]))
            for start in range(0, inputs.shape[0], batch_size):
                chunk = inputs[start : start + batch_size].to(device)
                scores = interpreter.interpret(chunk, sets, target=target)  # loads the CAVs trained above
                for key in keys:
                    row = scores[key][layer]
                    measured = torch.stack([row["sign_count"], row["magnitude"]]).detach().float().cpu()
                    totals[key][layer] += measured * chunk.shape[0]
            for key in keys:
                accuracy[key][layer] = float(interpreter.cavs[key][layer].stats["accs"])
    correction = f"bonferroni over {len(layers)} layers" if bonferroni else "none"
    result = TcavResult(concept.name, [r.name for r in randoms], target, int(inputs.shape[0]), alpha, correction)
    half = len(others)
    for layer in layers:
        mean = {key: totals[key][layer] / inputs.shape[0] for key in keys}
        concept_keys, random_keys = keys[:half], keys[half:]
        concept_scores = [float(mean[k][0, 0]) for k in concept_keys]
        # as_concept[k][j]: (score, magnitude, accuracy) of random set k posing as the concept against set j
        as_concept: list[dict[int, tuple[float, float, float]]] = [{} for _ in others]
        for (k, j), key in zip(pairs, random_keys, strict=True):
            as_concept[k][j] = (float(mean[key][0, 0]), float(mean[key][1, 0]), accuracy[key][layer])
            as_concept[j][k] = (float(mean[key][0, 1]), float(mean[key][1, 1]), accuracy[key][layer])
        random_means = [np.mean(list(runs.values()), axis=0).tolist() for runs in as_concept]
        sides = [float(mean[key][0, side]) for key in random_keys for side in (0, 1)]
        concept_magnitudes = [float(mean[k][1, 0]) for k in concept_keys]
        tests = {}
        for name, column, concept_values in (
            ("magnitude", 1, concept_magnitudes),
            ("sign_count", 0, concept_scores),
        ):
            t, p = significance(float(np.mean(concept_values)), [m[column] for m in random_means])
            p_corrected = min(1.0, p * len(layers)) if bonferroni else p
            tests[name] = Verdict(t, p, p_corrected, p_corrected < alpha)
        result.layers.append(
            LayerTest(
                layer=layer,
                statistic=statistic,
                concept_scores=concept_scores,
                random_scores=[m[0] for m in random_means],
                concept_magnitudes=concept_magnitudes,
                random_magnitudes=[m[1] for m in random_means],
                concept_accuracy=[accuracy[k][layer] for k in concept_keys],
                random_accuracy=[m[2] for m in random_means],
                saturated=float(np.mean([min(score, 1 - score) < 1e-6 for score in sides])),
                tests=tests,
            )
        )
    return result
