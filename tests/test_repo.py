import json
import subprocess
import sys
from pathlib import Path

import pytest

import zkimg

ROOT = Path(__file__).resolve().parents[1]


def test_importing_zkimg_does_not_import_onnx():
    """onnx (about 0.9 s to import) loads with the first graph built, not with ``import zkimg``:
    the CLI, ``import zkimg`` and every spawned verifier worker start without it."""
    code = ("import sys, zkimg, zkimg.cli, zkimg.verification, zkimg.hazmat; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('onnx', 'onnxruntime')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


@pytest.mark.slow
def test_circuit_record_is_current():
    """circuits/record.json is what the code builds (regenerate deliberately with circuits/record.py)."""
    r = subprocess.run([sys.executable, str(ROOT / "circuits" / "record.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.slow
def test_examples_run(tmp_path):
    env = {**__import__("os").environ, "ZKIMG_CACHE": str(tmp_path)}
    r = subprocess.run([sys.executable, str(ROOT / "examples" / "tile_proof.py")], capture_output=True,
                       text=True, env=env, timeout=600)
    assert r.returncode == 0 and "verified" in r.stdout, r.stdout + r.stderr
    r = subprocess.run([sys.executable, "-m", "zkimg.demo", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "--photo" in r.stdout


@pytest.mark.slow
@pytest.mark.parametrize("scheme", ["poseidon", "kzg"])
def test_the_hd_benchmark_runs_on_a_small_frame(tmp_path, scheme):
    """benchmarks/hd.py (what RESULTS.md's HD figures come from) end to end on a 48×32 frame,
    one sampled job, without the naive baseline (a 2^17 circuit): the benchmark itself works."""
    env = {**__import__("os").environ, "ZKIMG_CACHE": str(tmp_path)}
    args = ["--sample", "1", "--width", "48", "--height", "32", "--tile", "16", "--workload", "resize",
            "--scheme", scheme, "--srs-dir", str(tmp_path / "srs"), "--no-baseline"]
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "hd.py"), *args, *(["--logrows", "12"] if scheme == "kzg"
                                                                                    else [])],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "| prove() wall s, setup included (extrapolated) |" in r.stdout and "not run" in r.stdout
    assert (f"{scheme}, columns of 2^12 rows" if scheme == "kzg" else "poseidon") in r.stdout


@pytest.mark.slow
def test_demo_runs_the_whole_flow(tmp_path):
    """``zkimg demo``: key, capture of the whole bundled photo, prove, files saved and loaded back,
    verify, a tampered image refused; each step said, and the files left where asked."""
    env = {**__import__("os").environ, "ZKIMG_CACHE": str(tmp_path / "cache")}
    zkimg_cli = Path(sys.executable).parent / "zkimg"  # the console script
    r = subprocess.run([str(zkimg_cli), "demo", "--out", str(tmp_path / "demo")], capture_output=True, text=True,
                       env=env, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    steps = [line.split()[0] for line in r.stdout.splitlines()]
    assert steps == ["keygen", "capture", "edit", "estimate", "prove", "verify", "tamper", "done"], r.stdout
    assert "all 576 cells of the 128×128 photo" in r.stdout and "VERIFIED" in r.stdout
    assert "refused: ProofInvalid" in r.stdout and "not the ones proved" in r.stdout
    names = {p.name for p in (tmp_path / "demo").iterdir()}
    assert {"camera.pem", "camera.pub.pem", "photo.capture.json", "edit.zkimg", "edit.png", "tampered.png"} <= names
    att = zkimg.Attestation.load(tmp_path / "demo" / "edit.zkimg")  # the saved bundle verifies here too
    policy = zkimg.TrustedCameras([zkimg.PublicKey.load(tmp_path / "demo" / "camera.pub.pem")],
                                  allow_development_srs=True)
    result = zkimg.verify(att, zkimg.read_image(tmp_path / "demo" / "edit.png"), policy,
                          store=zkimg.CircuitStore(tmp_path / "cache"))
    assert result.input_size == (128, 128, 3) and result.tiles == len(att.proofs) > 1


def test_readme_example_runs(store, tmp_path, monkeypatch):
    """The README's ten-line example, verbatim, on a 32×24 JPEG of a real photo (the
    quickstart notebook's region and edit: its keys are reused when the notebooks ran first):
    saved as a file and run as a script (no ``__main__`` guard: the default process pool must
    not re-run it), and through ``exec`` as a notebook cell runs it."""
    import re

    from PIL import Image

    text = (ROOT / "README.md").read_text()
    block = re.search(r"## In ten lines of Python\n\n```python\n(.*?)```", text, re.S).group(1)
    assert len(block.strip().splitlines()) <= 12
    from zkimg.demo import load_photo

    Image.fromarray(load_photo()[24:48, 44:76]).save(tmp_path / "photo.jpg", quality=92)
    (tmp_path / "snippet.py").write_text(block + "print('tiles', result.tiles, len(att.proofs))\n")
    env = {**__import__("os").environ, "ZKIMG_CACHE": str(store.cache_dir)}
    r = subprocess.run([sys.executable, "snippet.py"], cwd=tmp_path, capture_output=True, text=True, env=env,
                       timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    _, tiles, proofs = r.stdout.split()
    assert tiles == proofs and int(tiles) > 1 and (tmp_path / "edit.png").exists()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ZKIMG_CACHE", str(store.cache_dir))
    scope: dict = {}
    exec(compile(block, "README.md", "exec"), scope)
    assert scope["result"].tiles == len(scope["att"].proofs) and (tmp_path / "edit.png").exists()


@pytest.mark.slow
def test_ezkl_scale_warning_is_filtered(tmp_path, caplog):
    """zkimg's circuits are exact at scale 0; ezkl's "low scale values" warning is dropped."""
    import logging

    import zkimg

    with caplog.at_level(logging.WARNING):
        zkimg.CircuitStore(tmp_path).circuit(zkimg.hazmat.TileJob(zkimg.Pipeline([zkimg.Flip()]), (4, 5, 3)))
    assert not [r for r in caplog.records if "low scale" in r.getMessage()]
    logging.getLogger("ezkl").warning("low scale values (<8) may impact precision")  # the filter is what drops it
    logging.getLogger("ezkl").warning("another ezkl warning")
    assert [r.getMessage() for r in caplog.records if r.name == "ezkl"] == ["another ezkl warning"]


@pytest.mark.slow
def test_shipped_circuits_keep_the_freivalds_einsum_chip_off(tmp_path, monkeypatch):
    """ezkl's Freivalds einsum chip returns values later cells are not tied to: every shipped
    circuit is built with it disabled and lays out no einsum column, and a circuit that would
    is refused."""
    import json

    sys.path.insert(0, str(ROOT / "circuits"))
    import record

    import zkimg
    from zkimg.hazmat.circuits import RUN_ARGS

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
        zkimg.CircuitStore(tmp_path / "other").circuit(zkimg.hazmat.TileJob(zkimg.Pipeline([zkimg.Flip()]), (4, 4, 3)))


def test_results_lead_with_the_current_figures_of_every_workload():
    """benchmarks/RESULTS.md starts with the current table of each workload, rendered from
    benchmarks/current.json by benchmarks/current.py; the dated history follows."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import current

    text = (ROOT / "benchmarks" / "RESULTS.md").read_text()
    data = json.loads((ROOT / "benchmarks" / "current.json").read_text())
    assert set(current.ORDER) <= set(data)
    assert current.rendered(text, data) == text  # regenerate with python benchmarks/current.py --render-only
    assert text.index("\n## Current figures") < text.index("\n## History") < text.index("\n## Tile jobs per transform (")


def test_readme_names_every_error_and_every_verifier_check():
    """The README is where a user learns what can go wrong: every public error class and every
    check name the CLI can print (``NOT VERIFIED: <check> check failed``) is listed there."""
    import inspect

    import zkimg
    from zkimg import errors

    readme = (ROOT / "README.md").read_text()
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, errors.Error)]
    assert len(classes) >= 20
    for cls in classes:
        assert getattr(zkimg, cls.__name__) is cls, f"{cls.__name__} is not exported by zkimg"
        if cls is not errors.Error:
            assert f"`zkimg.{cls.__name__}`" in readme or f"`{cls.__name__}`" in readme, cls.__name__
        if issubclass(cls, errors.VerificationError) and cls is not errors.VerificationError:
            assert f"`{cls.check}`" in readme.split("NOT VERIFIED")[1][:400], f"check {cls.check!r} not listed"


def test_exported_names_never_shadow_modules_and_private_names_stay_private():
    """``import zkimg.x as m`` gives the module x: no package exports a name equal to one of its
    modules; and no module imports another module's private (``_``) names."""
    import ast
    import pkgutil

    import zkimg
    import zkimg.hazmat

    for pkg in (zkimg, zkimg.hazmat):
        modules = {m.name for m in pkgutil.iter_modules(pkg.__path__)}
        assert not modules & set(pkg.__all__), modules & set(pkg.__all__)
        assert all(hasattr(pkg, name) for name in pkg.__all__)
    for path in (ROOT / "zkimg").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module is not None:  # (``from . import _ezkl``: a module)
                private = [a.name for a in node.names if a.name.startswith("_") and a.name != "__version__"]
                assert not private, f"{path.relative_to(ROOT)} imports private names {private} from {node.module}"
    for path in (ROOT / "tests").glob("*.py"):  # tests use public names only
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([node.module or ""] + [a.name for a in node.names] if isinstance(node, ast.ImportFrom)
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            if names and names[0].startswith("zkimg"):
                assert not any(part.startswith("_") for n in names for part in n.split(".")), (path.name, names)


def test_ezkl_is_called_from_one_backend_module():
    """zkimg/hazmat/_ezkl.py is the only module that imports ezkl; prover and verifier reach
    it through it, and neither imports the other."""
    import ast

    importers, imports = set(), {}
    for path in (ROOT / "zkimg").rglob("*.py"):
        rel = str(path.relative_to(ROOT))
        mods = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                mods |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                mods |= {node.module or ""} | {f"{node.module or ''}.{a.name}" for a in node.names}
        if any(m == "ezkl" or m.startswith("ezkl.") for m in mods):
            importers.add(rel)
        imports[rel] = mods
    assert importers == {"zkimg/hazmat/_ezkl.py"}
    assert not any("verifying" in m or "verification" in m for m in imports["zkimg/hazmat/proving.py"])
    assert not any("proving" in m or "attest" in m for m in imports["zkimg/hazmat/verifying.py"])
    assert not any("proving" in m or "attest" in m for m in imports["zkimg/verification.py"])


def test_packaging_declares_its_licence_without_deprecated_forms():
    """setuptools deprecated the table form of project.license (it printed a banner four times
    per editable install); an SPDX string needs setuptools >= 77."""
    import tomllib

    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert isinstance(meta["project"]["license"], str)
    assert "License ::" not in " ".join(meta["project"].get("classifiers", []))
    assert any(r.replace(" ", "").startswith("setuptools>=") and
               int(r.split(">=")[1].split(".")[0]) >= 77 for r in meta["build-system"]["requires"])


def test_a_test_run_cleans_up_after_itself(pytestconfig, session_cache, tmp_path_factory):
    """Temporary folders (gigabytes of keys) go when the run ends, except a failed test's; every
    cache the tests touch, a subprocess's default included, is the session's temporary one."""
    assert pytestconfig.getini("tmp_path_retention_policy") == "failed"
    import os

    assert os.environ["ZKIMG_CACHE"] == session_cache
    if not pytestconfig.zkimg_cache_preset:  # tests/mutants.py presets one to reuse keys across runs
        assert Path(session_cache).is_relative_to(tmp_path_factory.getbasetemp())


def test_the_hd_notebook_reads_the_current_figures():
    """Notebook 04 shows what benchmarks/current.json (RESULTS.md's "Current figures") says, not
    superseded numbers of its own or of the history."""
    nb = json.loads((ROOT / "examples" / "04_hd_benchmark.ipynb").read_text())
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert "current.json" in code and "RESULTS.md" not in code
    prose = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    import re

    assert not re.search(r"\d[\d,.]*\s*(s|seconds|min|h|GB|MB|bytes)\b|extrapolated", prose), \
        "figures belong in benchmarks/current.json, not in the notebook's text"
