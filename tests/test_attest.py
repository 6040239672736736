"""Whole-image attestations: capture → prove → bundle → verify, and a tamper test per check."""

import dataclasses
import gzip
import json
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from helpers import dev_policy, photo_tile

import zkimg
from zkimg.bundle import Attestation
from zkimg.hazmat.plan import Plan

PHOTO = photo_tile("astronaut", 30, 150, 64, 96)  # a 96×64 crop of a real photo
PIPE = zkimg.Pipeline([zkimg.Crop(left=4, top=4, width=88, height=56), zkimg.Resize(width=44, height=28),
                       zkimg.GaussianBlur(3), zkimg.Contrast(1.25)])


@pytest.fixture(scope="module")
def attested(store, camera, tmp_path_factory):
    shot = camera.capture(PHOTO, tile=16, border=2)
    seen = []
    att = zkimg.prove(shot, PIPE, store=store, progress=lambda s, d, t: seen.append((s, d, t)),
                      workdir=tmp_path_factory.mktemp("work"))
    path = tmp_path_factory.mktemp("out") / "out.zkimg"
    att.save(path)
    return shot, att, path, seen


def test_end_to_end(attested, camera, store):
    shot, att, path, seen = attested
    published = PIPE.apply(PHOTO)
    checked = []
    res = zkimg.verify(Attestation.load(path), published, policy=dev_policy([camera.public_key]), store=store,
                       progress=lambda *a: checked.append(a))
    assert res.output_size == published.shape and res.input_size == PHOTO.shape
    assert res.camera_key_id == camera.public_key.key_id and res.development_srs
    n = len(att.proofs)
    assert res.tiles == n and seen[-1] == ("prove", n, n)
    assert [d for s, d, t in seen if s == "setup"] == list(range(Plan(PIPE, shot.signed.layout).distinct_circuits + 1))
    assert checked == [("verify", i, n) for i in range(n + 1)]
    raw = path.read_bytes()  # saved gzip-compressed, deterministically
    assert len(raw) < 5000 * len(att.proofs) + 200 * len(shot.signed.cell_commitments)  # tiles, not pixels
    assert raw == att.dumps(compress=True) and gzip.decompress(raw) == att.dumps()
    assert len(raw) < 0.8 * len(att.dumps())  # the proofs' base64 shrinks back
    assert json.loads(gzip.decompress(raw))["media_type"] == "application/vnd.zkimg.attestation+json"


def test_bundle_never_holds_pixels_or_salts(attested):
    shot, att, path, _ = attested
    text = gzip.decompress(path.read_bytes()).decode()
    for salt in shot.secrets.salts[:20]:
        assert salt.hex() not in text
    assert "pixels" not in text


def test_resume_reuses_finished_tiles(store, camera, tmp_path):
    shot = camera.capture(PHOTO[:32, :32], tile=16, border=2)
    pipe = zkimg.Pipeline([zkimg.Flip()])
    first = zkimg.prove(shot, pipe, store=store, workdir=tmp_path, executor=ThreadPoolExecutor(1))
    proofs = sorted(tmp_path.glob("segment-0/job-*.proof"))
    assert len(proofs) == len(first.proofs)
    proofs[0].unlink()  # as if interrupted before the last tile
    stamps = {p: p.stat().st_mtime_ns for p in proofs[1:]}
    done = []
    again = zkimg.prove(shot, pipe, store=store, workdir=tmp_path, progress=lambda s, d, t: done.append(d) if s == "prove" else None)
    assert done[0] == len(first.proofs) - 1  # resumed with all but one finished
    assert all(p.stat().st_mtime_ns == s for p, s in stamps.items())
    zkimg.verify(again, pipe.apply(PHOTO[:32, :32]), policy=dev_policy([camera.public_key]), store=store)
    with pytest.raises(zkimg.InvalidParameter):  # a work dir never mixes proofs of two plans
        zkimg.prove(shot, zkimg.Pipeline([zkimg.Flip("vertical")]), store=store, workdir=tmp_path)


# ----------------------------------------------------------------- one tamper test per check

SMALL = photo_tile("coffee", 100, 200, 32, 32)
SMALL_PIPE = zkimg.Pipeline([zkimg.GaussianBlur(3), zkimg.Brightness(1.1)])  # halos cross tile edges


@pytest.fixture(scope="module")
def small(store, camera):
    shot = camera.capture(SMALL, tile=16, border=2)
    return zkimg.prove(shot, SMALL_PIPE, store=store, executor=ThreadPoolExecutor(1))



def with_segment(att, i=-1, **changes):
    segs = list(att.segments)
    segs[i] = dataclasses.replace(segs[i], **changes)
    return dataclasses.replace(att, segments=tuple(segs))


def expect(att, published, error, camera, store):
    with pytest.raises(error):
        zkimg.verify(att, published, policy=dev_policy([camera.public_key]), store=store)


def test_untrusted_key(small, store):
    att = small
    with pytest.raises(zkimg.UntrustedKey):
        zkimg.verify(att, SMALL_PIPE.apply(SMALL), policy=dev_policy([zkimg.Camera.generate().public_key]), store=store)


def test_root_mismatch(small, camera, store):
    att = small
    cells = list(att.capture.cell_commitments)
    cells[0] = (cells[0] + 1) % zkimg.hazmat.FIELD_MODULUS
    forged = dataclasses.replace(att, capture=dataclasses.replace(att.capture, cell_commitments=tuple(cells)))
    expect(forged, SMALL_PIPE.apply(SMALL), zkimg.RootMismatch, camera, store)


def test_signature(small, camera, store):
    att = small
    sig = bytearray(att.capture.signature)
    sig[5] ^= 1
    forged = dataclasses.replace(att, capture=dataclasses.replace(att.capture, signature=bytes(sig)))
    expect(forged, SMALL_PIPE.apply(SMALL), zkimg.SignatureInvalid, camera, store)


def test_recommitted_image_under_another_key(small, camera, store):
    """Another camera's capture of a different image cannot be passed off as this camera's."""
    att = small
    other = zkimg.Camera.generate().capture(SMALL, tile=16, border=2).signed
    forged = dataclasses.replace(att, capture=dataclasses.replace(other, camera_key=camera.public_key))
    expect(forged, SMALL_PIPE.apply(SMALL), zkimg.SignatureInvalid, camera, store)


def test_output_pixel_changed(small, camera, store):
    out = SMALL_PIPE.apply(SMALL)
    out[20, 30, 2] ^= 4
    expect(small, out, zkimg.ProofInvalid, camera, store)


def test_output_size(small, camera, store):
    att = small
    expect(att, None, zkimg.OutputMismatch, camera, store)  # a public output must be given
    expect(dataclasses.replace(att, output_shape=(31, 32, 3)), SMALL_PIPE.apply(SMALL), zkimg.OutputMismatch,
           camera, store)  # the bundle's declared size must be what the pipeline makes
    expect(att, SMALL_PIPE.apply(SMALL)[:, :-1], zkimg.OutputMismatch, camera, store)


def test_pipeline_parameter_changed(small, camera, store):
    att = small
    other = zkimg.Pipeline([zkimg.GaussianBlur(3), zkimg.Brightness(1.2)])
    expect(dataclasses.replace(att, pipeline=other), other.apply(SMALL), zkimg.ProofInvalid, camera, store)


def test_tiles_swapped(small, camera, store):
    p = list(small.proofs)
    p[0], p[1] = p[1], p[0]
    expect(with_segment(small, proofs=tuple(p)), SMALL_PIPE.apply(SMALL), zkimg.ProofInvalid, camera, store)


def test_jobs_of_two_tiles(store, camera):
    """``tiles_per_job`` travels in the bundle and the verifier plans with it."""
    shot = camera.capture(SMALL, tile=16, border=2)
    pipe = zkimg.Pipeline([zkimg.Resize(16, 16)])
    att = zkimg.prove(shot, pipe, store=store, tiles_per_job=2, executor=ThreadPoolExecutor(1))
    assert len(att.proofs) == 2 and att.tiles_per_job == 2  # 2×2 tiles, two per job
    loaded = Attestation.loads(att.dumps(compress=True))
    assert loaded.tiles_per_job == 2 and json.loads(att.dumps())["plan"] == {"max_out": 64, "tiles_per_job": 2}
    res = zkimg.verify(loaded, pipe.apply(SMALL), policy=dev_policy([camera.public_key]), store=store)
    assert res.tiles == 2
    # claimed as one tile per job, the plan has 4 jobs for the 2 proofs
    expect(dataclasses.replace(loaded, tiles_per_job=1), pipe.apply(SMALL), zkimg.TileCountMismatch, camera, store)


def test_proofs_checked_on_an_executor(small, camera, store):
    # A process pool checks the tile proofs; the first bad tile in plan order is reported.
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    published = SMALL_PIPE.apply(SMALL)
    p = list(small.proofs)
    p[2] = p[3]
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        seen = []
        res = zkimg.verify(small, published, policy=dev_policy([camera.public_key]), store=store, executor=pool,
                           progress=lambda *a: seen.append(a))
        assert res.tiles == len(small.proofs) and seen[-1] == ("verify", res.tiles, res.tiles)
        with pytest.raises(zkimg.ProofInvalid, match=r"tile 2 \(rows .* not the ones proved"):
            zkimg.verify(with_segment(small, proofs=tuple(p)), published, policy=dev_policy([camera.public_key]),
                         store=store, executor=pool)


def test_large_bundles_are_verified_on_a_local_pool(small, camera, store, monkeypatch):
    """verify() checks proofs in this process while that is cheaper; once the ones left would
    take longer than POOL_AFTER_S (estimated from the circuit's rows before any is measured),
    on a pool of one process per core (at most one per proof), each running ezkl on one
    thread (the processes fill the cores)."""
    import importlib

    verify_module = importlib.import_module("zkimg.verification")  # zkimg.verify is the function
    pool_module = importlib.import_module("zkimg._pool")
    real, started = pool_module.process_pool, []

    def recording(workers, **kw):
        pool = real(workers, **kw)  # what a worker's ezkl sizes its thread pool by:
        started.append((workers, pool.submit(os.getenv, "RAYON_NUM_THREADS").result()))
        return pool

    monkeypatch.setattr(pool_module, "process_pool", recording)
    published, policy, cpus = SMALL_PIPE.apply(SMALL), dev_policy([camera.public_key]), os.cpu_count() or 1
    ticks = []
    monkeypatch.setattr(verify_module, "POOL_AFTER_S", 0.0)  # any proof is worth a pool: started before the first
    zkimg.verify(small, published, policy=policy, store=store, progress=lambda stage, done, total: ticks.append(done))
    assert started == ([(min(cpus, len(small.proofs)), "1")] if cpus > 1 else [])
    assert ticks == list(range(len(small.proofs) + 1))
    started.clear()
    monkeypatch.setattr(verify_module, "POOL_AFTER_S", 1e9)  # never worth it: every proof here
    zkimg.verify(small, published, policy=policy, store=store)
    assert started == []
    monkeypatch.setattr(verify_module, "POOL_AFTER_S", 0.1)  # the estimate says here, the measured rate...
    monkeypatch.setattr(verify_module, "VERIFY_S_PER_ROW", 0.0)
    clock = iter(range(10**6))  # every proof checked here is timed at 1 s
    monkeypatch.setattr(verify_module, "time", type("Clock", (), {"perf_counter": staticmethod(lambda: next(clock))}))
    zkimg.verify(small, published, policy=policy, store=store)  # ...a pool after the first proof
    assert started == ([(min(cpus, len(small.proofs) - 1), "1")] if cpus > 1 else [])


def test_proof_from_another_capture(small, camera, store):
    """A proof made for another capture (same pixels, same job, other salts) does not transfer."""
    other = zkimg.prove(camera.capture(SMALL, tile=16, border=2), SMALL_PIPE, store=store)
    p = list(small.proofs)
    p[1] = other.proofs[1]
    expect(with_segment(small, proofs=tuple(p)), SMALL_PIPE.apply(SMALL), zkimg.ProofInvalid, camera, store)


def test_missing_tile(small, camera, store):
    att = small
    expect(with_segment(att, proofs=att.proofs[:-1]), SMALL_PIPE.apply(SMALL), zkimg.TileCountMismatch, camera, store)


def test_srs_digest(small, camera, store):
    att = small
    forged = dataclasses.replace(att, srs_digests={k: "0" * 64 for k in att.srs_digests})
    expect(forged, SMALL_PIPE.apply(SMALL), zkimg.SRSMismatch, camera, store)


def test_proofs_for_circuits_of_another_size(small, camera, store):
    """A bundle recording no proof for the size of a circuit the verifier rebuilds (here its
    SRS digests moved to other logrows) is a circuit mismatch, not an SRS one."""
    sizes = sorted(small.srs_digests)
    shift = sizes[-1] - sizes[0] + 1  # no recorded size is left where it was
    forged = dataclasses.replace(small, srs_digests={k + shift: d for k, d in small.srs_digests.items()})
    expect(forged, SMALL_PIPE.apply(SMALL), zkimg.CircuitMismatch, camera, store)


def test_distinct_circuits_are_bounded(small, camera, store):
    assert Plan(SMALL_PIPE, small.capture.layout).distinct_circuits > 1
    with pytest.raises(zkimg.InvalidBundle, match="max_circuits"):
        zkimg.verify(small, SMALL_PIPE.apply(SMALL), policy=dev_policy([camera.public_key]), store=store,
                     limits=zkimg.Limits(max_circuits=1))


def test_bundle_cannot_hide_a_development_srs(small, camera, store):
    expect(dataclasses.replace(small, development_srs=False), SMALL_PIPE.apply(SMALL), zkimg.SRSMismatch, camera,
           store)


def test_development_srs_needs_an_explicit_opt_in(small, camera, store):
    published = SMALL_PIPE.apply(SMALL)
    with pytest.raises(zkimg.UntrustedSRS, match="allow_development_srs"):
        zkimg.verify(small, published, zkimg.TrustedCameras([camera.public_key]), store=store)
    forged = dataclasses.replace(small, capture=dataclasses.replace(small.capture, signature=bytes(64)))
    with pytest.raises(zkimg.UntrustedSRS):  # the verifier's own SRS is judged before the bundle's signature
        zkimg.verify(forged, published, zkimg.TrustedCameras([camera.public_key]), store=store)
    with pytest.raises(zkimg.UntrustedSRS):  # the other opt-in does not cover a development SRS
        zkimg.verify(small, published, zkimg.TrustedCameras(camera.public_key, allow_unpinned_srs=True),
                     store=store)
    res = zkimg.verify(small, published, zkimg.TrustedCameras(camera.public_key, allow_development_srs=True),
                       store=store)
    assert res.srs_trust == "development"


@pytest.mark.parametrize("make", [
    lambda: zkimg.TrustedCameras([]),
    lambda: zkimg.TrustedCameras(list),
    lambda: zkimg.TrustedCameras(["not a key"]),
    lambda: zkimg.TrustedCameras(zkimg.Camera.generate().public_key, minimum_srs_trust="trust me"),
    lambda: zkimg.TrustedCameras(zkimg.Camera.generate().public_key, minimum_srs_trust="development"),
    lambda: zkimg.TrustedCameras(zkimg.Camera.generate().public_key, allow_development_srs="yes"),
])
def test_policy_arguments_are_checked(make):
    with pytest.raises(zkimg.InvalidParameter):
        make()


def test_verify_needs_a_policy(small, camera, store):
    with pytest.raises(zkimg.InvalidParameter, match="policy"):
        zkimg.verify(small, SMALL_PIPE.apply(SMALL), [camera.public_key], store=store)  # type: ignore[arg-type]


@pytest.mark.parametrize("mutate", [
    lambda d: d.update(media_type="text/plain"),
    lambda d: d.update(schema_version=3),
    lambda d: d.update(schema_version=1),  # before plan.tiles_per_job
    lambda d: d["plan"].update(tiles_per_job=0),
    lambda d: d["plan"].update(tiles_per_job=17),
    lambda d: d["plan"].update(tiles_per_job=True),
    lambda d: d["plan"].update(tiles_per_job="2"),
    lambda d: d["plan"].pop("tiles_per_job"),
    lambda d: d["segments"][0].update(proofs=[]),
    lambda d: d["segments"][0].update(proofs=["zz"]),
    lambda d: d["segments"][0].update(proofs=["AAAA="]),
    lambda d: d["segments"][0].update(steps=3),
    lambda d: d.update(segments=[]),
    lambda d: d["capture"].update(root="00"),
    lambda d: d["capture"].update(camera_key="00ff"),
    lambda d: d["capture"]["layout"].update(width=10 ** 9),
    lambda d: d["capture"]["cell_commitments"].pop(),
    lambda d: d["srs"]["digests"].update({"x": "1"}),
    lambda d: d.update(output_shape=[1, 2]),
    lambda d: d["pipeline"]["steps"].append({"op": "nope"}),
    lambda d: d.pop("plan"),
    lambda d: d.update(verifying_key="00" * 32),  # a bundle never carries a key to be believed
    lambda d: d["segments"][0].update(verifying_keys=["00"]),
])
def test_malformed_bundles(small, mutate):
    att = small
    d = json.loads(att.dumps())
    mutate(d)
    with pytest.raises(zkimg.InvalidBundle):
        Attestation.loads(json.dumps(d))


def test_hidden_output(store, camera):
    shot = camera.capture(SMALL[:16, :32], tile=16, border=2)
    pipe = zkimg.Pipeline([zkimg.Resize(16, 8), zkimg.Contrast(1.1)])
    att = zkimg.prove(shot, pipe, store=store, hide_output=True, executor=ThreadPoolExecutor(1))
    loaded = Attestation.loads(att.dumps())
    assert loaded.output_salts is None and loaded.output_commitments == att.output_commitments
    res = zkimg.verify(loaded, None, policy=dev_policy([camera.public_key]), store=store)
    assert res.hidden_output and res.output_size == (8, 16, 3)
    # the owner can open the commitments with the output and the secret salts
    out = pipe.apply(SMALL[:16, :32])
    plan = zkimg.hazmat.Plan(pipe, shot.signed.layout, True)
    for job, c, s in zip(plan.jobs, att.output_commitments, att.output_salts):
        assert shot.signed.layout.scheme.commit(  # the capture's format (3: 31 bytes per field element)
            np.ascontiguousarray(out[job.rows[0]:job.rows[1], job.cols[0]:job.cols[1]]), s) == c
    for salt in att.output_salts:
        assert salt.hex() not in att.dumps().decode()
    wrong = list(att.output_commitments)
    wrong[0] = zkimg.hazmat.commit(out[:1, :1], zkimg.hazmat.new_salt())
    expect(with_segment(loaded, output_commitments=tuple(wrong)), None, zkimg.ProofInvalid, camera, store)
    expect(loaded, out, zkimg.OutputMismatch, camera, store)


# ----------------------------------------------------------------- chains of hidden intermediates

CHAIN = zkimg.Pipeline([zkimg.Crop(2, 3, 26, 24), zkimg.GaussianBlur(3), zkimg.Brightness(1.2)])
CHAIN_IMG = photo_tile("chelsea", 60, 90, 32, 32)


@pytest.fixture(scope="module")
def chain(store, camera):
    shot = camera.capture(CHAIN_IMG, tile=16, border=2)
    seen = []
    att = zkimg.prove(shot, CHAIN, store=store, segments=[1, 1, 1], executor=ThreadPoolExecutor(1),
                      progress=lambda *a: seen.append(a))
    n = len(att.proofs)  # one count over all three segments, never going back
    done = [d for s, d, t in seen if s == "prove"]
    assert done == sorted(done) and set(done) == set(range(n + 1))
    assert seen[-1] == ("prove", n, n) and all(t == n for s, d, t in seen if s == "prove")
    return att


def test_three_step_chain_with_hidden_intermediates(chain, camera, store):
    att = Attestation.loads(chain.dumps())
    assert [s.steps for s in att.segments] == [1, 1, 1]
    assert att.segments[0].output_commitments and att.segments[1].output_commitments
    assert att.segments[2].output_commitments is None
    res = zkimg.verify(att, CHAIN.apply(CHAIN_IMG), policy=dev_policy([camera.public_key]), store=store)
    assert res.tiles == len(att.proofs) and not res.hidden_output


def test_broken_chain_link_is_rejected(chain, camera, store):
    """Replacing an intermediate commitment breaks the proof that produced it or consumes it."""
    mids = list(chain.segments[0].output_commitments)
    mids[0] = zkimg.hazmat.commit(np.zeros((16, 16, 3), np.uint8), zkimg.hazmat.new_salt())
    expect(with_segment(chain, 0, output_commitments=tuple(mids)), CHAIN.apply(CHAIN_IMG), zkimg.ProofInvalid,
           camera, store)


def test_segments_must_match_the_pipeline(chain, camera, store):
    fused = dataclasses.replace(chain, segments=chain.segments[:2] + (dataclasses.replace(chain.segments[2], steps=2),))
    with pytest.raises(zkimg.InvalidBundle):
        Attestation.loads(fused.dumps())
