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
