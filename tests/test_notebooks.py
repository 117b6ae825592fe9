"""The example notebooks run from start to end in a Jupyter kernel, as a user runs them, and draw their pictures.

Each runs on a copy in a temporary folder (the notebooks write under ``outputs/`` beside themselves), so the
repository stays as it was. A cell that raises fails the test with the cell and its traceback.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import ROOT

EXAMPLES = ROOT / "examples"
NOTEBOOKS = sorted(path.name for path in EXAMPLES.glob("*.ipynb"))
EMBEDDED = re.compile(r'<img src="data:image/(png|gif);base64,')

#: Pictures each notebook must show: PNGs and GIFs, as image outputs or embedded in HTML (a result's card).
PICTURES = {
    # the capture's strip, Grad-CAM's overlays, saliency's overlays
    "python_api.ipynb": {"png": 3, "gif": 0},
    # the training curves, the confusion matrix, the validation overlays, the audit's curves
    "train_explain_audit.ipynb": {"png": 4, "gif": 0},
    # the capture's strip, the frames with their overlays, the animated overlays
    "video_clip.ipynb": {"png": 2, "gif": 1},
}


def _pictures(notebook: nbformat.NotebookNode) -> dict[str, int]:
    found = {"png": 0, "gif": 0}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            for kind in found:
                found[kind] += int(f"image/{kind}" in data)
            for kind in EMBEDDED.findall(data.get("text/html", "")):
                found[kind] += 1
    return found


def test_every_example_notebook_is_listed_and_stored_clean() -> None:
    """Stored without outputs, each opening with a markdown cell that says what it shows and how to run it."""
    assert NOTEBOOKS == sorted(PICTURES)
    for name in NOTEBOOKS:
        notebook = nbformat.read(EXAMPLES / name, as_version=4)
        nbformat.validate(notebook)
        first = notebook.cells[0]
        assert first.cell_type == "markdown" and "What it shows" in first.source and "How to run it" in first.source
        code = [cell for cell in notebook.cells if cell.cell_type == "code"]
        assert all(not cell.outputs and cell.execution_count is None for cell in code), f"{name} has outputs"


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_example_notebook_runs_and_draws_its_pictures(name: str, tmp_path: Path) -> None:
    folder = tmp_path / "examples"
    shutil.copytree(EXAMPLES, folder, ignore=shutil.ignore_patterns("outputs", ".ipynb_checkpoints"))
    notebook = nbformat.read(folder / name, as_version=4)
    client = NotebookClient(notebook, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(folder)}})
    client.execute()

    errors = [o for cell in notebook.cells for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert _pictures(notebook) == PICTURES[name]
    assert not (EXAMPLES / "outputs").exists(), "a notebook wrote into the repository"
