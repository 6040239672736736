"""The example notebooks execute top to bottom (real proofs, small tiles)."""

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))


def test_there_are_five_notebooks():
    assert [p.name for p in NOTEBOOKS] == ["01_quickstart.ipynb", "02_chained_edits.ipynb", "03_tamper_demo.ipynb",
                                           "04_hd_benchmark.ipynb", "05_protect_a_source.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, store, tmp_path, monkeypatch):
    monkeypatch.setenv("ZKIMG_CACHE", str(store.cache_dir))  # the kernel reuses the session's keys
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend makes the pictures
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})  # files it writes go here
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    if path.stem != "04_hd_benchmark":
        images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
        assert images, "the notebook should show pictures"
