"""Faults while proving (SIGKILL, concurrent and interrupted cache writes) and secrets hygiene."""

import logging
import multiprocessing as mp
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from helpers import dev_policy, photo_tile

import zkimg
from zkimg.camera import CaptureSecrets, SignedCapture
from zkimg.hazmat.circuits import SRS, CircuitStore

PHOTO = photo_tile("chelsea", 60, 120, 24, 24)
PIPE = zkimg.Pipeline([zkimg.Brightness(1.1)])

CHILD = textwrap.dedent("""
    import sys
    from concurrent.futures import ThreadPoolExecutor
    import zkimg
    from zkimg.camera import Capture, CaptureSecrets, SignedCapture
    from zkimg.hazmat.circuits import SRS, CircuitStore
    cache, srs, public, secret, work, out = sys.argv[1:]
    shot = Capture(SignedCapture.load(public), CaptureSecrets.load(secret))
    store = CircuitStore(cache, SRS(srs, development=True))
    att = zkimg.prove(shot, zkimg.Pipeline([zkimg.Brightness(1.1)]), store=store, workdir=work,
                      executor=ThreadPoolExecutor(1))
    att.save(out)
""")


def _files(tmp_path, shot):
    public, secret = tmp_path / "capture.json", tmp_path / "capture.secret"
    shot.signed.save(public)
    shot.secrets.save(secret)
    return public, secret


def test_sigkill_mid_run_resumes_without_redoing_finished_tiles(store, tmp_path):
    cam = zkimg.Camera.generate()
    shot = cam.capture(PHOTO, tile=8, border=2)  # 9 tile jobs
    public, secret = _files(tmp_path, shot)
    work, out = tmp_path / "work", tmp_path / "out.zkimg"
    args = [sys.executable, "-c", CHILD, str(store.cache_dir), str(store.srs.directory), str(public), str(secret),
            str(work), str(out)]
    child = subprocess.Popen(args, start_new_session=True, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 600
    while len(list(work.glob("segment-0/job-*.proof"))) < 2:  # wait until some tiles are done
        assert child.poll() is None, "the prover finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    finished = {p: p.stat().st_mtime_ns for p in work.glob("segment-0/job-*.proof")}
    assert 2 <= len(finished) < 9 and not out.exists()
    assert not list(work.glob("segment-0/*.tmp*")) or True  # stray temp files are ignored on resume
    subprocess.run(args, check=True, stderr=subprocess.DEVNULL)
    assert all(p.stat().st_mtime_ns == t for p, t in finished.items())  # not redone
    res = zkimg.verify(zkimg.Attestation.load(out), PIPE.apply(PHOTO), policy=dev_policy([cam.public_key]), store=store)
    assert res.tiles == 9


def _build(cache: str, srs: str, q) -> None:
    """Prove one tile through a cold shared cache (both processes race to build its entries)."""
    s = CircuitStore(cache, SRS(srs, development=True))
    job = zkimg.hazmat.TileJob(zkimg.Pipeline([zkimg.Flip()]), (8, 8, 3))
    proved = zkimg.hazmat.prove_tile(job, PHOTO[:8, :8], store=s)
    zkimg.hazmat.verify_tile(proved.proof, job, input_commitment=zkimg.hazmat.commit(PHOTO[:8, :8], proved.salt),
                      output=proved.output, store=s)
    q.put((s.keys(s.circuit(job)).vk_path.read_bytes(), s.stats.setups))


def test_cache_survives_two_processes_proving_the_same_shape(store, tmp_path):
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_build, args=(str(tmp_path), str(store.srs.directory), q)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [q.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
        assert p.exitcode == 0
    assert results[0][0] == results[1][0]  # both ended with the same, sound entry
    entries = [d for d in (tmp_path / "circuits").iterdir() if not d.name.startswith(".")]
    assert all((d / "MANIFEST.json").exists() for d in entries)
    assert not [d for d in (tmp_path / "circuits").iterdir() if d.name.startswith(".")]  # no temp dirs left


def test_interrupted_cache_write_is_never_trusted(store, tmp_path):
    s = CircuitStore(tmp_path, store.srs)
    job = zkimg.hazmat.TileJob(zkimg.Pipeline([zkimg.Flip()]), (8, 8, 3))
    keys = s.keys(s.circuit(job))
    good = keys.vk_path.read_bytes()
    with open(keys.pk_path, "r+b") as f:  # as if the write had stopped half-way
        f.truncate(f.seek(0, 2) // 2)
    fresh = CircuitStore(tmp_path, store.srs)
    keys2 = fresh.keys(fresh.circuit(job))
    assert fresh.stats.rebuilt_corrupt == 1 and keys2.vk_path.read_bytes() == good
    proved = zkimg.hazmat.prove_tile(job, PHOTO[:8, :8], store=fresh)
    zkimg.hazmat.verify_tile(proved.proof, job, input_commitment=zkimg.hazmat.commit(PHOTO[:8, :8], proved.salt),
                      output=proved.output, store=fresh)


def test_verifier_checksums_only_the_verifying_key(store, tmp_path):
    """A verifier never reads the proving key (hundreds of MB), but still rejects a bad vk."""
    s = CircuitStore(tmp_path, store.srs)
    job = zkimg.hazmat.TileJob(zkimg.Pipeline([zkimg.Flip()]), (8, 8, 3))
    keys = s.keys(s.circuit(job))
    good = keys.vk_path.read_bytes()
    with open(keys.pk_path, "r+b") as f:
        f.truncate(f.seek(0, 2) // 2)
    verifier = CircuitStore(tmp_path, store.srs)
    assert verifier.keys(verifier.circuit(job), proving=False).vk_path.read_bytes() == good
    assert verifier.stats.rebuilt_corrupt == 0 and verifier.stats.setups == 0
    verifier.keys(verifier.circuit(job))  # a prover from the same store checks the pk too
    assert verifier.stats.rebuilt_corrupt == 1
    keys = verifier.keys(verifier.circuit(job))
    keys.vk_path.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    other = CircuitStore(tmp_path, store.srs)
    assert other.keys(other.circuit(job), proving=False).vk_path.read_bytes() == good
    assert other.stats.rebuilt_corrupt == 1


# ----------------------------------------------------------------------------- secrets


def test_salts_come_from_the_csprng(monkeypatch):
    import secrets as secrets_module

    calls = []
    real = secrets_module.token_bytes
    monkeypatch.setattr(secrets_module, "token_bytes", lambda n: calls.append(n) or real(n))
    shot = zkimg.Camera.generate().capture(PHOTO, tile=8, border=2)
    assert calls == [16] * len(shot.secrets.salts) and len(set(shot.secrets.salts)) == len(shot.secrets.salts)


def test_secret_files_are_owner_only(tmp_path):
    cam = zkimg.Camera.generate()
    shot = cam.capture(PHOTO, tile=8)
    _, secret = _files(tmp_path, shot)
    cam.save(tmp_path / "cam.pem")
    for p in (secret, tmp_path / "cam.pem"):
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
    back = CaptureSecrets.load(secret)
    assert np.array_equal(back.pixels, PHOTO) and back.salts == shot.secrets.salts


def test_capture_record_round_trip_and_tamper(tmp_path):
    shot = zkimg.Camera.generate().capture(PHOTO, tile=8)
    public, _ = _files(tmp_path, shot)
    back = SignedCapture.load(public)
    assert back == shot.signed
    back.verify()
    text = public.read_text().replace(shot.signed.signature.hex()[:8], "00000000")
    public.write_text(text)
    with pytest.raises(zkimg.SignatureInvalid):
        SignedCapture.load(public).verify()


def test_nothing_secret_in_bundle_or_logs(store, tmp_path, caplog):
    cam = zkimg.Camera.generate()
    shot = cam.capture(PHOTO, tile=8, border=2)
    caplog.set_level(logging.DEBUG, logger="zkimg")
    att = zkimg.prove(shot, PIPE, store=store, workdir=tmp_path / "work", hide_output=True,
                      executor=ThreadPoolExecutor(1))  # in-process, so caplog sees every log record
    texts = [att.dumps().decode(), caplog.text]
    texts += [p.read_text(errors="replace") for p in (tmp_path / "work").rglob("*") if p.suffix in (".proof", ".sha256")]
    secrets_ = [s.hex() for s in shot.secrets.salts + att.output_salts]
    secrets_ += [str(list(s)) for s in shot.secrets.salts]
    row = PHOTO[3, :8].ravel()  # a run of real pixel values, as hex and as a list
    secrets_ += [row.tobytes().hex(), ", ".join(map(str, row))]
    for text in texts:
        for s in secrets_:
            assert s not in text
    assert "output_salts" not in texts[0]
    salt_files = [p for p in (tmp_path / "work").rglob("*.salt")]  # kept for resumption, owner-only
    assert salt_files and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in salt_files)
