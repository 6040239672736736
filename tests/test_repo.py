import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_circuit_record_is_current():
    """circuits/record.json is what the code builds (regenerate deliberately with circuits/record.py)."""
    r = subprocess.run([sys.executable, str(ROOT / "circuits" / "record.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_examples_run(tmp_path):
    env = {**__import__("os").environ, "ZKIMG_CACHE": str(tmp_path)}
    r = subprocess.run([sys.executable, str(ROOT / "examples" / "tile_proof.py")], capture_output=True,
                       text=True, env=env, timeout=600)
    assert r.returncode == 0 and "verified" in r.stdout, r.stdout + r.stderr
    r = subprocess.run([sys.executable, "-m", "zkimg.demo", "--tile", "8"], capture_output=True,
                       text=True, env=env, timeout=600)
    assert r.returncode == 0 and "VERIFIED" in r.stdout and "ProofInvalid" in r.stdout, r.stdout + r.stderr
    zkimg_cli = Path(sys.executable).parent / "zkimg"  # the console script; same demo, keys now cached
    r = subprocess.run([str(zkimg_cli), "demo", "--tile", "8"], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0 and "VERIFIED" in r.stdout and "ProofInvalid" in r.stdout, r.stdout + r.stderr


def test_readme_example_runs(store, tmp_path, monkeypatch):
    """The README's ten-line example, verbatim, on a 32×24 JPEG of a real photo (the
    quickstart notebook's region and edit: its keys are reused when the notebooks ran first)."""
    import re

    from PIL import Image

    text = (ROOT / "README.md").read_text()
    block = re.search(r"## In ten lines of Python\n\n```python\n(.*?)```", text, re.S).group(1)
    assert len(block.strip().splitlines()) <= 12
    from zkimg.demo import load_photo

    Image.fromarray(load_photo()[24:48, 44:76]).save(tmp_path / "photo.jpg", quality=92)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ZKIMG_CACHE", str(store.cache_dir))
    scope: dict = {}
    exec(compile(block, "README.md", "exec"), scope)
    assert scope["result"].tiles == len(scope["att"].proofs) and (tmp_path / "edit.png").exists()


def test_ezkl_scale_warning_is_filtered(tmp_path, caplog):
    """zkimg's circuits are exact at scale 0; ezkl's "low scale values" warning is dropped."""
    import logging

    import zkimg

    with caplog.at_level(logging.WARNING):
        zkimg.CircuitStore(tmp_path).circuit(zkimg.TileJob(zkimg.Pipeline([zkimg.Flip()]), (4, 5, 3)))
    assert not [r for r in caplog.records if "low scale" in r.getMessage()]
    logging.getLogger("ezkl").warning("low scale values (<8) may impact precision")  # the filter is what drops it
    logging.getLogger("ezkl").warning("another ezkl warning")
    assert [r.getMessage() for r in caplog.records if r.name == "ezkl"] == ["another ezkl warning"]


def test_shipped_circuits_keep_the_freivalds_einsum_chip_off(tmp_path, monkeypatch):
    """ezkl's Freivalds einsum chip returns values later cells are not tied to: every shipped
    circuit is built with it disabled and lays out no einsum column, and a circuit that would
    is refused."""
    import json

    sys.path.insert(0, str(ROOT / "circuits"))
    import record

    import zkimg
    from zkimg.circuits import RUN_ARGS

    assert RUN_ARGS["disable_freivalds"] is True
    store = zkimg.CircuitStore(tmp_path)
    for name, job in record.builtin_jobs():
        s = store.circuit(job).settings
        assert s["run_args"]["disable_freivalds"] is True, name
        assert s["einsum_params"]["total_einsum_col_size"] == 0, name
    import ezkl

    real = ezkl.gen_settings

    def with_einsum(model, settings, **kw):  # as if ezkl had laid out a Freivalds einsum
        real(model, settings, **kw)
        s = json.loads(Path(settings).read_text())
        s["einsum_params"]["total_einsum_col_size"] = 64
        Path(settings).write_text(json.dumps(s))
        return True

    monkeypatch.setattr(ezkl, "gen_settings", with_einsum)
    import pytest

    with pytest.raises(zkimg.CircuitError, match="Freivalds"):
        zkimg.CircuitStore(tmp_path / "other").circuit(zkimg.TileJob(zkimg.Pipeline([zkimg.Flip()]), (4, 4, 3)))
