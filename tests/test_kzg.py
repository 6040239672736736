"""The KZG scheme (DESIGN.md, "Commitments (KZG): the fast scheme"): native commitments
pinned to ezkl's, capture parameters signed, proofs re-randomised and linked, and every
verifier rule with a test that fails when the rule is removed (tests/mutants.py), plus the
known-τ negative control that shows what the binding rests on."""

import dataclasses
import json
import secrets
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from helpers import KZG_TEST_PARAMS, dev_policy, kzg_spec, photo_tile, table_steps
from known_tau import lagrange_at, write_known_tau_srs

import zkimg
from zkimg.attest import fit_max_out
from zkimg.bundle import Attestation, Segment
from zkimg.camera import Capture, SignedCapture, capture_message
from zkimg.errors import (
    CircuitError,
    InvalidParameter,
    InvalidRecord,
    LinkInvalid,
    MalformedInput,
    ProofInvalid,
    ProvingError,
    RootMismatch,
    SignatureInvalid,
    SRSMismatch,
)
from zkimg.hazmat import bn254
from zkimg.hazmat.circuits import SRS, sha256_file
from zkimg.hazmat.commitments import ProofContext
from zkimg.hazmat.kzg_scheme import (
    KZGScheme,
    column_capacity,
    lagrange_basis,
    make_link,
    point_int,
)
from zkimg.hazmat.lowering import run_reference
from zkimg.hazmat.plan import chain_plans
from zkimg.hazmat.tiles import TileLayout
from zkimg.hazmat.verifying import check_proof


def felt_to_hex(x):
    return x.to_bytes(32, "little").hex()  # ezkl's field element encoding


IMAGE = photo_tile("astronaut", 100, 180, 16, 24)
PIPELINE = zkimg.Pipeline([zkimg.GaussianBlur(3), zkimg.Resize(12, 8)])
LOGROWS = 12


# ----------------------------------------------------------------------------- fast: points, parameters


def test_points_decode_strictly():
    g = (1, 2)
    assert bn254.decode(bn254.encode(g)) == g
    two = bn254.add(g, g)
    assert bn254.msm([2], [g]) == two == bn254.mul(2 + bn254.R, g)
    assert bn254.msm([3, bn254.R - 1], [g, two]) == g  # 3G − 2G
    assert bn254.add(g, bn254.neg(g)) is None
    with pytest.raises(MalformedInput, match="identity"):
        bn254.decode(bytes(64))
    with pytest.raises(MalformedInput, match="not on the curve"):
        bn254.decode((1).to_bytes(32, "big") + (3).to_bytes(32, "big"))
    with pytest.raises(MalformedInput, match="below the field modulus"):  # x + q names the same x mod q
        bn254.decode((1 + bn254.Q).to_bytes(32, "big") + (2).to_bytes(32, "big"))
    with pytest.raises(MalformedInput, match="64 bytes"):
        bn254.decode(bytes(63))


def _params(**over):
    p = {"logrows": 12, **dict(KZG_TEST_PARAMS)}
    p.update(over)
    return p


@pytest.mark.parametrize("bad", [
    {"logrows": 7}, {"logrows": 30}, {"logrows": True}, {"logrows": 12.0}, {"salt_slots": 4}, {"salt_slots": 65},
    {"unusable_rows": 5}, {"srs_sha256": "AB" * 32}, {"srs_sha256": "ab" * 31}, {"extra": 1},
])
def test_capture_parameters_are_checked(bad):
    p = _params(**bad)
    with pytest.raises(InvalidParameter):
        KZGScheme.from_params(p)
    with pytest.raises(InvalidParameter):  # a layout names its scheme's parameters, validated alike
        TileLayout(16, 16, 3, 8, 0, 2, tuple(sorted(p.items())))


def test_a_layout_checks_its_scheme_parameters_and_columns():
    scheme = KZGScheme.from_params(_params(logrows=9))
    lay = TileLayout(24, 16, 3, 8, 0, 2, scheme.params)
    assert lay.scheme == scheme and lay.to_json()["scheme"] == dict(scheme.params)
    scheme.check_cells(lay)
    with pytest.raises(InvalidParameter, match="needs 773 rows"):  # 16 px RGB + 5 salts > 2^9 − 8
        scheme.check_cells(TileLayout(32, 32, 3, 16, 0, 2, scheme.params))
    assert column_capacity(9) == 504
    with pytest.raises(InvalidParameter):  # the Poseidon format takes no parameters
        TileLayout(24, 16, 3, 8, 0, 1, scheme.params)
    with pytest.raises(InvalidParameter):  # and the KZG one needs them
        TileLayout(24, 16, 3, 8, 0, 2)
    with pytest.raises(InvalidParameter, match="single tile job"):
        zkimg.hazmat.TileJob(PIPELINE, (8, 8, 3), scheme="kzg")


def test_salts_are_field_elements():
    s = KZGScheme.from_params(_params())
    salt = s.new_salt()
    assert len(salt) == 160 and s.check_salt(salt) == salt
    assert len({s.new_salt() for _ in range(8)}) == 8
    with pytest.raises(InvalidParameter, match="below r"):
        s.check_salt(salt[:-32] + bn254.R.to_bytes(32, "little"))
    with pytest.raises(InvalidParameter, match="160 bytes"):
        s.check_salt(salt[:16])


# ----------------------------------------------------------------------------- captures


@pytest.fixture(scope="module")
def kzg_capture(store, camera):
    return camera.capture(IMAGE, tile=8, scheme="kzg", logrows=LOGROWS, store=store)


def test_native_commitments_are_ezkls_and_a_pure_msm(kzg_capture, store):
    """Known answer: the camera's commitments (ezkl.kzg_commit, in chunks) equal an MSM over
    the SRS file's Lagrange points with ones in the 6 unusable rows."""
    lay, signed = kzg_capture.signed.layout, kzg_capture.signed
    scheme = lay.scheme
    basis = lagrange_basis(store.srs.path(LOGROWS), LOGROWS)
    for i in (0, 4, len(lay.cells) - 1):
        pixels = lay.cell_pixels(kzg_capture.secrets.pixels, lay.cells[i])
        assert scheme.commit_with(basis, pixels, kzg_capture.secrets.salts[i]) == signed.cell_commitments[i]
    assert len(set(signed.cell_commitments)) == len(lay.cells)
    with pytest.raises(InvalidParameter, match="with an SRS"):
        scheme.commit(IMAGE[:8, :8], kzg_capture.secrets.salts[0])


def test_capture_records_round_trip_and_sign_the_parameters(kzg_capture, camera, tmp_path):
    signed = kzg_capture.signed
    again = SignedCapture.from_json(json.loads(signed.dumps())["capture"])
    assert again == signed
    again.verify()
    doc = json.loads(signed.dumps())
    assert doc["capture"]["layout"]["scheme"]["logrows"] == LOGROWS and len(doc["capture"]["cell_commitments"][0]) == 128
    for key, value in (("logrows", LOGROWS + 1), ("salt_slots", 6), ("srs_sha256", "cd" * 32)):
        forged = json.loads(signed.dumps())["capture"]
        forged["layout"]["scheme"][key] = value
        with pytest.raises(SignatureInvalid):  # the parameters are in the signed message
            SignedCapture.from_json(forged).verify()
    bad = json.loads(signed.dumps())["capture"]
    bad["cell_commitments"][0] = "00" * 64
    with pytest.raises(InvalidRecord, match="identity"):
        SignedCapture.from_json(bad)
    bad["cell_commitments"][0] = "01" * 64
    with pytest.raises(InvalidRecord, match="not on the curve"):
        SignedCapture.from_json(bad)
    del bad["layout"]["scheme"]
    with pytest.raises(InvalidRecord):
        SignedCapture.from_json(bad)
    # a root over other commitments, properly signed, is still refused by the root check
    other = dataclasses.replace(signed, cell_commitments=signed.cell_commitments[::-1])
    with pytest.raises(RootMismatch):
        other.verify()
    # secrets: salts of 5 field elements per cell survive a save and load
    path = tmp_path / "secrets.npz"
    kzg_capture.secrets.save(path)
    loaded = zkimg.CaptureSecrets.load(path)
    assert loaded.salts == kzg_capture.secrets.salts and np.array_equal(loaded.pixels, IMAGE)
    Capture(signed, loaded)
    with pytest.raises(InvalidParameter):  # Poseidon-sized salts do not fit a KZG capture
        Capture(signed, zkimg.CaptureSecrets(IMAGE, tuple(b"\0" * 16 for _ in loaded.salts)))


def test_capture_options_are_checked(camera, store):
    with pytest.raises(InvalidParameter, match="scheme"):
        camera.capture(IMAGE, tile=8, scheme="sha256")
    with pytest.raises(InvalidParameter, match="logrows"):
        camera.capture(IMAGE, tile=8, logrows=12)  # Poseidon has no column height
    with pytest.raises(InvalidParameter, match="needs"):
        camera.capture(IMAGE, tile=16, scheme="kzg", logrows=9, store=store)


# ----------------------------------------------------------------------------- proofs


@pytest.fixture(scope="module")
def kzg_bundle(kzg_capture, store):
    att = zkimg.prove(kzg_capture, PIPELINE, store=store, executor=None)
    return att, PIPELINE.apply(IMAGE)


def _verify(att, published, camera, store, **kw):
    return zkimg.verify(att, published, dev_policy(camera.public_key), store=store, executor=None, **kw)


def test_a_kzg_capture_proves_and_verifies(kzg_bundle, camera, store):
    att, published = kzg_bundle
    v = _verify(att, published, camera, store)
    assert v.tiles == len(att.proofs) > 1 and v.output_size == published.shape
    plan = chain_plans(PIPELINE, att.capture.layout, hidden_output=False, max_out=att.max_out, segments=None)[0]
    assert max(len(j.cells) for j in plan.jobs) > 1  # jobs read neighbouring columns (the blur halo)
    assert all(store.circuit(j.spec).logrows == LOGROWS for j in plan.jobs)  # every circuit at the capture's K
    again = Attestation.loads(att.dumps(compress=True))
    _verify(again, published, camera, store)
    link = att.capture.layout.scheme.link_bytes
    assert link == 224 and all(len(p) > link for p in att.proofs)
    edited = published.copy()
    edited[3, 5, 1] ^= 1
    with pytest.raises(ProofInvalid, match="published pixels"):
        _verify(att, edited, camera, store)


def _with_proof(att, index, record):
    proofs = list(att.segments[0].proofs)
    proofs[index] = record
    return dataclasses.replace(att, segments=(Segment(att.segments[0].steps, tuple(proofs)),))


def _parts(att, index):
    plan = chain_plans(PIPELINE, att.capture.layout, hidden_output=False, max_out=att.max_out, segments=None)[0]
    job = plan.jobs[index]
    return plan, job


def test_a_false_link_is_refused(kzg_bundle, camera, store):
    att, published = kzg_bundle
    record = bytearray(att.proofs[1])
    record[100] ^= 1  # one response of the first link
    with pytest.raises(LinkInvalid, match="not the signed commitment re-randomised"):
        _verify(_with_proof(att, 1, bytes(record)), published, camera, store)


def test_a_response_not_below_the_group_order_is_refused(kzg_bundle, camera, store):
    """z + r satisfies the same equation mod r: only the range check refuses it."""
    att, published = kzg_bundle
    record = bytearray(att.proofs[0])
    z = int.from_bytes(record[64:96], "big") + bn254.R  # < 2r < 2^256
    record[64:96] = z.to_bytes(32, "big")
    with pytest.raises(LinkInvalid, match="below the group order"):
        _verify(_with_proof(att, 0, bytes(record)), published, camera, store)


@pytest.mark.parametrize("what", ["identity", "off-curve", "not canonical"])
def test_malformed_points_are_refused(kzg_bundle, camera, store, what):
    att, published = kzg_bundle
    link = att.capture.layout.scheme.link_bytes
    bad = {"identity": bytes(64), "off-curve": (1).to_bytes(32, "big") + (3).to_bytes(32, "big"),
           "not canonical": (1 + bn254.Q).to_bytes(32, "big") + (2).to_bytes(32, "big")}[what]
    for at in (0, link):  # the link's nonce point, then the proof's input point
        record = bytearray(att.proofs[0])
        record[at:at + 64] = bad
        with pytest.raises(LinkInvalid, match="identity|not on the curve|below the field modulus"):
            _verify(_with_proof(att, 0, bytes(record)), published, camera, store)
    with pytest.raises(LinkInvalid, match="one link per input"):
        _verify(_with_proof(att, 0, att.proofs[0][:link + 10]), published, camera, store)


def _raw_proof(store, job, parts, salts, deltas, hint_slots=None):
    """ezkl's proof of ``job`` on ``parts`` (any values: a forger's) with salt slots
    ``salts[i] + deltas[i]`` — what a prover controls, without zkimg's own checks."""
    spec = job.spec
    scheme = spec.commitment_scheme
    circuit = store.circuit(spec)
    keys = store.keys(circuit)
    _, hints = run_reference(spec, spec.assemble(parts))
    inputs = [p.ravel().tolist() + [felt_to_hex((r + d) % bn254.R) for r, d in zip(rs, ds)]
              for p, rs, ds in zip(parts, salts, deltas)]
    if hints:
        inputs.append(np.concatenate([h.ravel() for h in hints]).tolist()
                      + [felt_to_hex(secrets.randbelow(bn254.R)) for _ in range(scheme.salt_slots)])
    with tempfile.TemporaryDirectory() as tmp:
        import ezkl  # the forger calls ezkl itself

        data, wit, out = Path(tmp) / "input.json", Path(tmp) / "witness.json", Path(tmp) / "proof.json"
        data.write_text(json.dumps({"input_data": inputs}))
        ezkl.gen_witness(str(data), str(circuit.compiled_path), str(wit))
        ezkl.prove(str(wit), str(circuit.compiled_path), str(keys.pk_path), str(out), srs_path=str(keys.srs_path))
        return bytes(json.loads(out.read_text())["proof"]), keys, circuit


def _felts(salt):
    return [int.from_bytes(salt[i:i + 32], "little") for i in range(0, len(salt), 32)]


def _sealed(scheme, store, keys, job, att, proof, deltas, commitments=None):
    """Link proofs for ``deltas`` (the forger knows them) against the signed commitments."""
    ctx = ProofContext(att.capture.root, job.index, job.cells, sha256_file(keys.vk_path),
                       commitments or tuple(att.capture.cell_commitments[k] for k in job.cells), job.spec.part_sizes,
                       keys.srs_path)
    basis = lagrange_basis(keys.srs_path, scheme.logrows)
    links = []
    for i, d in enumerate(deltas):
        n = ctx.sizes[i]
        bases = [basis.point(n + j) for j in range(scheme.salt_slots)]
        c = ctx.commitments[i].to_bytes(64, "big")
        links.append(make_link(scheme, bases, n, ctx, i, c, proof[64 * i:64 * i + 64], d))
    return b"".join(links) + proof, ctx


def test_the_proofs_point_is_the_signed_commitment_shifted_by_delta(kzg_bundle, kzg_capture, store):
    """Known answer, prover side: the point ezkl puts first in the proof is C + Σ δ_j·L_{n+j}."""
    att, _ = kzg_bundle
    plan, job = _parts(att, 0)
    lay, sec = att.capture.layout, kzg_capture.secrets
    parts = [lay.cell_pixels(sec.pixels, lay.cells[k]).ravel() for k in job.cells]
    deltas = [[secrets.randbelow(bn254.R) for _ in range(5)] for _ in job.cells]
    proof, keys, _ = _raw_proof(store, job, parts, [_felts(sec.salts[k]) for k in job.cells], deltas)
    basis = lagrange_basis(keys.srs_path, LOGROWS)
    for i, k in enumerate(job.cells):
        n = job.spec.part_sizes[i]
        want = bn254.add(bn254.decode(att.capture.cell_commitments[k].to_bytes(64, "big")),
                         bn254.msm(deltas[i], [basis.point(n + j) for j in range(5)]))
        assert proof[64 * i:64 * i + 64] == bn254.encode(want)


def test_a_changed_pixel_is_refused_for_every_delta(kzg_bundle, kzg_capture, store, camera):
    """A column that differs from the camera's in one value, re-randomised by δ and linked
    with that δ, is refused by the link — and, published with its own output, by nothing else."""
    att, published = kzg_bundle
    plan, job = _parts(att, 0)
    lay, sec = att.capture.layout, kzg_capture.secrets
    scheme = lay.scheme
    parts = [lay.cell_pixels(sec.pixels, lay.cells[k]).ravel().copy() for k in job.cells]
    parts[0][0] ^= 0x10
    forged = sec.pixels.copy()
    forged[lay.cells[job.cells[0]].r0, lay.cells[job.cells[0]].c0, 0] ^= 0x10
    out = PIPELINE.apply(forged)[job.rows[0]:job.rows[1], job.cols[0]:job.cols[1]]
    for _ in range(3):
        deltas = [[secrets.randbelow(bn254.R) for _ in range(5)] for _ in job.cells]
        proof, keys, circuit = _raw_proof(store, job, parts, [_felts(sec.salts[k]) for k in job.cells], deltas)
        check_proof(circuit, keys, proof, scheme.public_instances((), out))  # ezkl alone accepts it
        record, ctx = _sealed(scheme, store, keys, job, att, proof, deltas)
        with pytest.raises(LinkInvalid):
            scheme.open(record, ctx)


def test_a_link_replayed_elsewhere_is_refused(kzg_bundle, kzg_capture, store, camera):
    """A link is bound to its C', job, tile and capture: moved anywhere else it fails."""
    att, published = kzg_bundle
    scheme = att.capture.layout.scheme
    link = scheme.link_bytes
    plan, job = _parts(att, 0)
    # another C': a fresh proof of the same job with the old proof's link
    lay, sec = att.capture.layout, kzg_capture.secrets
    parts = [lay.cell_pixels(sec.pixels, lay.cells[k]).ravel() for k in job.cells]
    deltas = [[secrets.randbelow(bn254.R) for _ in range(5)] for _ in job.cells]
    proof, keys, _ = _raw_proof(store, job, parts, [_felts(sec.salts[k]) for k in job.cells], deltas)
    old = att.proofs[0]
    replayed = old[:link * len(job.cells)] + proof
    with pytest.raises(LinkInvalid):
        _verify(_with_proof(att, 0, replayed), published, camera, store)
    # another job and tile: job 0's record in job 1's place (job 1 reads other cells)
    with pytest.raises(LinkInvalid):
        _verify(_with_proof(att, 1, old), published, camera, store)
    # another capture: the same job of a second capture of the same image, under the first's record
    ctx = ProofContext(att.capture.root ^ 1, job.index, job.cells, sha256_file(keys.vk_path),
                       tuple(att.capture.cell_commitments[k] for k in job.cells), job.spec.part_sizes, keys.srs_path)
    with pytest.raises(LinkInvalid):
        scheme.open(old, ctx)
    ctx = dataclasses.replace(ctx, root=att.capture.root)
    assert scheme.open(old, ctx)  # the same context accepts it: only the binding changed


def test_an_unrandomised_point_is_refused(kzg_bundle, kzg_capture, store, camera):
    """δ = 0 makes C' = C: a proof whose column point is the signed commitment itself is
    refused before its (valid) link is looked at."""
    att, published = kzg_bundle
    plan, job = _parts(att, 0)
    lay, sec = att.capture.layout, kzg_capture.secrets
    parts = [lay.cell_pixels(sec.pixels, lay.cells[k]).ravel() for k in job.cells]
    zeros = [[0] * 5 for _ in job.cells]
    proof, keys, _ = _raw_proof(store, job, parts, [_felts(sec.salts[k]) for k in job.cells], zeros)
    assert proof[:64] == att.capture.cell_commitments[job.cells[0]].to_bytes(64, "big")
    record, _ = _sealed(lay.scheme, store, keys, job, att, proof, zeros)
    with pytest.raises(LinkInvalid, match="not re-randomised"):
        _verify(_with_proof(att, 0, record), published, camera, store)


def test_a_repeated_point_is_refused(kzg_capture, store, camera, monkeypatch):
    """A prover whose δ repeats (a broken random source) gives two jobs reading the same cell
    the same C': the bundle is refused, though every proof and link in it is valid."""
    import zkimg.hazmat.kzg_scheme as ks

    real = ks.secrets.randbelow
    monkeypatch.setattr(ks.secrets, "randbelow", lambda n: 7 if n == bn254.R else real(n))
    with ThreadPoolExecutor(1) as in_process:  # the patch holds in this process only
        att = zkimg.prove(kzg_capture, PIPELINE, store=store, executor=in_process)
    monkeypatch.setattr(ks.secrets, "randbelow", real)
    with pytest.raises(LinkInvalid, match="repeats"):
        _verify(att, PIPELINE.apply(IMAGE), camera, store)


def test_the_capture_srs_must_be_the_verifiers(kzg_capture, kzg_bundle, camera, store):
    """A capture (validly signed) naming another SRS is refused before any proof is read."""
    att, published = kzg_bundle
    signed = att.capture
    scheme = KZGScheme(LOGROWS, srs_sha256="cd" * 32)
    layout = dataclasses.replace(signed.layout, scheme_params=scheme.params)
    root = layout.root(signed.cell_commitments)
    other = SignedCapture(layout, signed.cell_commitments, root, camera.sign(capture_message(layout, root)),
                          camera.public_key)
    with pytest.raises(SRSMismatch, match="committed under SRS"):
        _verify(dataclasses.replace(att, capture=other), published, camera, store)
    # a capture whose K is not its proofs' (re-signed): its circuits are rebuilt at that K
    scheme = KZGScheme(LOGROWS + 1, srs_sha256=store.srs.digest(LOGROWS + 1))
    layout = dataclasses.replace(signed.layout, scheme_params=scheme.params)
    root = layout.root(signed.cell_commitments)
    other = SignedCapture(layout, signed.cell_commitments, root, camera.sign(capture_message(layout, root)),
                          camera.public_key)
    with pytest.raises((zkimg.errors.CircuitMismatch, SRSMismatch, LinkInvalid)):
        _verify(dataclasses.replace(att, capture=other), published, camera, store)


def test_wrong_secrets_fail_at_the_prover(kzg_capture, camera, store):
    other = camera.capture(IMAGE, tile=8, scheme="kzg", logrows=LOGROWS, store=store)
    mixed = Capture(kzg_capture.signed, other.secrets)  # same pixels, other salts: not checkable natively
    with pytest.raises(ProvingError, match="do not open"):
        zkimg.prove(mixed, zkimg.Pipeline([zkimg.Flip("horizontal")]), store=store, executor=None)


@pytest.fixture(scope="module")
def kzg_chain(kzg_capture, store):
    """Blur then resize in two segments: a hidden intermediate, then a hidden output."""
    return zkimg.prove(kzg_capture, PIPELINE, store=store, executor=None, segments=[1, 1], hide_output=True)


def test_a_kzg_chain_with_a_hidden_output_proves_and_verifies(kzg_chain, kzg_capture, camera, store):
    att = kzg_chain
    v = _verify(att, None, camera, store)
    assert v.hidden_output and v.tiles == len(att.proofs) and [len(s.proofs) for s in att.segments] == [6, 6]
    _verify(Attestation.loads(att.dumps(compress=True)), None, camera, store)
    with pytest.raises(zkimg.errors.OutputMismatch):
        _verify(att, PIPELINE.apply(IMAGE), camera, store)
    # Each declared output is the proof's own column: the values, then the output's salt t (what
    # its owner opens it with), by a pure-Python MSM over the SRS's Lagrange points.
    lay, scheme = kzg_capture.signed.layout, kzg_capture.signed.layout.scheme
    plans = chain_plans(PIPELINE, lay, hidden_output=True, max_out=att.max_out, segments=[1, 1])
    basis = lagrange_basis(store.srs.path(LOGROWS), LOGROWS)
    out = PIPELINE.apply(IMAGE)
    assert len(att.output_salts[0]) == scheme.salt_bytes == 160
    for job, c, salt in list(zip(plans[1].jobs, att.output_commitments, att.output_salts))[:2]:
        assert scheme.commit_with(basis, out[job.rows[0]:job.rows[1], job.cols[0]:job.cols[1]], salt) == c
    assert plans[1].layout.scheme == scheme  # the intermediate is committed under the capture's K and SRS
    points = att.segments[0].output_commitments + att.output_commitments
    assert len(set(points)) == len(points)


def _with_outputs(att, segment, commitments):
    segs = list(att.segments)
    segs[segment] = dataclasses.replace(segs[segment], output_commitments=tuple(commitments))
    return dataclasses.replace(att, segments=tuple(segs))


@pytest.mark.parametrize("segment", [0, 1], ids=["intermediate", "final"])
def test_a_declared_output_that_is_not_the_proofs_column_is_refused(kzg_chain, camera, store, segment):
    """Nothing but this check ties a final hidden output to its proof (ezkl sees no instance);
    an intermediate would also fail its consumer's link."""
    outs = list(kzg_chain.segments[segment].output_commitments)
    outs[0], outs[1] = outs[1], outs[0]
    with pytest.raises(zkimg.errors.CommitmentMismatch, match="not the commitment the bundle declares"):
        _verify(_with_outputs(kzg_chain, segment, outs), None, camera, store)


def test_a_job_longer_than_its_columns_spills_into_more_columns(camera, store):
    """K is the capture's column height; a job needing more main rows gets more columns side
    by side at that height, and proves and verifies."""
    image = photo_tile("coffee", 40, 60, 12, 24)
    pipeline = zkimg.Pipeline([zkimg.Brightness(1.2), zkimg.Redact(((2, 3, 5, 4),)), zkimg.Flip("vertical")])
    cap = camera.capture(image, tile=12, scheme="kzg", logrows=9, store=store)
    att = zkimg.prove(cap, pipeline, store=store, executor=None)
    plan = chain_plans(pipeline, cap.signed.layout, hidden_output=False, max_out=att.max_out, segments=None)[0]
    circuit = store.circuit(plan.jobs[0].spec)
    assert circuit.logrows == 9 and circuit.num_rows > 2 ** 9
    _verify(att, pipeline.apply(image), camera, store)


def test_a_lookup_costs_one_cell_row_a_value(store):
    """ezkl lays out a variable-index ``Gather`` as an index linearisation (a ``Mult`` and an
    ``Add``) plus the lookup; KZG graphs use a 1-D ``GatherElements``, the same lookup without
    the linearisation (lowering module doc). Each further point operation adds exactly one
    cell a value, and the reshapes around every lookup (the same shape constant each time)
    are not laid out as a shared constant (no decomposition range checks)."""
    from zkimg.hazmat.circuits import BASE_RUN_ARGS

    shape = (16, 16, 3)
    steps = [zkimg.Brightness(1.2), zkimg.Contrast(1.3), zkimg.Brightness(0.9)]
    circuits = [store.circuit(kzg_spec(zkimg.Pipeline(steps[:n]), shape)) for n in (1, 2, 3)]
    rows = [c.num_rows for c in circuits]
    one_cell_a_value = int(np.prod(shape)) // BASE_RUN_ARGS["num_inner_cols"]
    assert rows[1] - rows[0] == rows[2] - rows[1] == one_cell_a_value
    assert all(c.settings["required_range_checks"] == [] for c in circuits)


@pytest.mark.slow
def test_jobs_grow_past_64_pixels_where_their_columns_hold_them(store, monkeypatch):
    """Under KZG, prove() picks the largest output run whose jobs fit the capture's K, past 64
    pixels (sixteen 8 px tiles make one 128-pixel job at 2^12; at 2^11 its 3,072 public values
    overflow the instance column and the job is halved), given as the smallest run planning
    those jobs; a plan that did not fit is compiled once, however many runs plan it."""
    pipeline = zkimg.Pipeline([zkimg.Brightness(1.2)])
    compiled = []
    real = store.circuit
    monkeypatch.setattr(store, "circuit", lambda spec: compiled.append(spec) or real(spec))
    for logrows, run, circuits in ((12, 128, 1), (11, 64, 2)):
        compiled.clear()
        lay = TileLayout(128, 8, 3, 8, 0, 2, KZGScheme(logrows, srs_sha256=store.srs.digest(logrows)).params)
        assert fit_max_out(pipeline, lay, store, tiles_per_job=16) == run
        assert len(compiled) == circuits
        job = chain_plans(pipeline, lay, hidden_output=False, max_out=run, segments=None, tiles_per_job=16)[0].jobs[0]
        assert job.cols == (0, run) and store.circuit(job.spec).logrows == logrows


def test_a_too_low_row_count_fails_loudly(kzg_bundle, store, tmp_path):
    """The corrected counts (rows, assignments) are what lays the circuit out at the capture's
    K. Were they too low, ezkl fails loudly at setup — not a hang, not a proof of something
    else — and a job that does not fit the capture's K is refused when its circuit is built."""
    att, _ = kzg_bundle
    plan, job = _parts(att, 0)
    circuit = store.circuit(job.spec)
    settings = json.loads(circuit.settings_path.read_text())
    assert settings["run_args"]["logrows"] == LOGROWS and settings["num_rows"] < 2 ** LOGROWS
    small = dataclasses.replace(job.spec, scheme_params=KZGScheme(8, srs_sha256="ab" * 32).params)
    with pytest.raises(CircuitError, match="does not fit a column"):  # the pooled hints need more rows
        store.circuit(small)
    import ezkl

    d = tmp_path / "under"
    d.mkdir()
    (d / "network.onnx").write_bytes((circuit.directory / "network.onnx").read_bytes())
    # at 2^k rows this job needs two column blocks or more; claim assignments that fit one
    k = (settings["num_rows"] - 1).bit_length() - 1
    assert k >= 10 and settings["num_rows"] > 2 ** k
    under = dict(settings, run_args=dict(settings["run_args"], logrows=k), total_assignments=1000)
    (d / "settings.json").write_text(json.dumps(under))
    ezkl.compile_circuit(str(d / "network.onnx"), str(d / "network.ezkl"), str(d / "settings.json"))
    with pytest.raises(BaseException, match="index out of bounds"):  # a Rust panic, raised, not a hang
        ezkl.setup(str(d / "network.ezkl"), str(d / "vk.key"), str(d / "pk.key"), srs_path=str(store.srs.path(k)))


# ----------------------------------------------------------------------------- rounding hints (int64 graphs)


def _assert_hint_edit_does_not_prove(store, spec, edit):
    """An honest witness of ``spec`` on a photo tile with ``edit(hints)`` applied to its pooled
    hints (field elements): ezkl must refuse to prove it."""
    import ezkl

    from zkimg.hazmat.proving import generate_witness

    x = photo_tile("astronaut", 60, 200, *spec.region_shape[:2])
    scheme = KZGScheme.from_params(dict(spec.scheme_params))
    with tempfile.TemporaryDirectory() as tmp:
        w = generate_witness(store, spec, [x.ravel()], [scheme.new_salt()], None, Path(tmp))
        keys = store.keys(w.circuit)
        data = json.loads(w.path.read_text())
        hints = [int.from_bytes(bytes.fromhex(v), "little") for v in data["inputs"][1]]
        edit(hints)
        data["inputs"][1] = [felt_to_hex(v % bn254.R) for v in hints]
        w.path.write_text(json.dumps(data))
        with pytest.raises(BaseException) as e:
            ezkl.prove(str(w.path), str(w.circuit.compiled_path), str(keys.pk_path), str(Path(tmp) / "p.json"),
                       srs_path=str(keys.srs_path))
        assert not isinstance(e.value, (KeyboardInterrupt, SystemExit))
        assert not (Path(tmp) / "p.json").exists()


@pytest.mark.parametrize("pipeline, position", [(zkimg.Pipeline([zkimg.GaussianBlur(3)]), 5),  # row pass
                                                (zkimg.Pipeline([zkimg.GaussianBlur(3)]), 192 + 5),  # column pass
                                                (zkimg.Pipeline([zkimg.ColorConvert("rgb")]), 7)],  # signed, clamped
                         ids=["gaussian-rows", "gaussian-cols", "ycbcr-to-rgb"])
@pytest.mark.parametrize("delta", [1, -1])
def test_a_rounding_hint_off_by_one_cannot_be_proved_in_an_int64_graph(store, pipeline, position, delta):
    """The folded rounding (module doc of zkimg.hazmat.lowering): the quotient table holds
    ``d·q − offset``, so ``r = y − T[q]``; ceil for floor (or one less) puts ``r`` outside
    [0, d) and only the remainder lookup stops it."""
    spec = kzg_spec(pipeline, (8, 8, 3))
    folded = [d for d in table_steps(spec) if d > 1]  # quotient tables d·j − c
    assert len(folded) == len(store.circuit(spec).hints) >= 1  # every rounding is folded
    _assert_hint_edit_does_not_prove(store, spec, lambda h: h.__setitem__(position, h[position] + delta))


def test_a_quotient_outside_its_table_cannot_be_proved_in_an_int64_graph(store):
    """A hint ``q ± d⁻¹`` (a field element, not a small integer) moves ``r = y + offset − d·q``
    by ∓1, which keeps it in [0, d) for one of the two signs: the remainder lookup alone would
    take it and pass the field element on as the output. The quotient table's index range is
    what refuses both."""
    from zkimg.hazmat.lowering import reduce_weighted_sum

    spec = kzg_spec(zkimg.Pipeline([zkimg.Grayscale(1)]), (8, 8, 3))
    (rounding,) = spec.primitives
    d = reduce_weighted_sum(rounding).divisor  # the graph's only rounding: not rescaled
    for sign in (1, -1):
        step = sign * pow(d, -1, bn254.R)
        _assert_hint_edit_does_not_prove(store, spec, lambda h, step=step: h.__setitem__(3, h[3] + step))


# ----------------------------------------------------------------------------- the negative control


@pytest.fixture(scope="module")
def known_tau(store, tmp_path_factory):
    d = tmp_path_factory.mktemp("known-tau")
    tau = secrets.randbelow(bn254.R)
    write_known_tau_srs(d / "kzg9.srs", 9, tau, store.srs.path(9))
    return tau, zkimg.CircuitStore(d / "cache", SRS(d, development=True))


def test_with_a_known_tau_a_forgery_passes_everything(known_tau, camera):
    """The negative control: under an SRS whose τ is known, a column with one value changed
    and one salt slot adjusted commits to exactly C + Σ δ·G, so ezkl's proof, the link and the
    whole verifier accept a published image that is not the camera's photo edited. Under the
    session's SRS (τ unknown) the same forgery is refused (test_a_changed_pixel_…)."""
    tau, store = known_tau
    image = IMAGE[:8, :8].copy()
    pipeline = zkimg.Pipeline([zkimg.Flip("horizontal")])
    cap = camera.capture(image, tile=8, scheme="kzg", logrows=9, store=store)
    honest = zkimg.prove(cap, pipeline, store=store, executor=None)
    _verify(honest, pipeline.apply(image), camera, store)  # the constructed SRS is a working one
    plan = chain_plans(pipeline, cap.signed.layout, hidden_output=False, max_out=honest.max_out, segments=None)[0]
    (job,) = plan.jobs
    scheme = cap.signed.layout.scheme
    forged = image.copy()
    forged[0, 0, 0] ^= 0x80
    delta_v = int(forged[0, 0, 0]) - int(image[0, 0, 0])
    n = job.spec.part_sizes[0]
    lag = lagrange_at(tau, 9)
    deltas = [secrets.randbelow(bn254.R) for _ in range(5)]
    shifted = list(deltas)
    shifted[0] = (deltas[0] - delta_v * lag[0] * pow(lag[n], -1, bn254.R)) % bn254.R  # cancels the change
    salts = _felts(cap.secrets.salts[0])
    proof, keys, circuit = _raw_proof(store, job, [forged.ravel()], [salts], [shifted])
    record, ctx = _sealed(scheme, store, keys, job, honest, proof, [deltas])
    scheme.open(record, ctx)  # the link holds
    att = _with_proof(honest, 0, record)
    v = _verify(att, pipeline.apply(forged), camera, store)  # and so does everything else
    assert v.tiles == 1
    assert point_int(bn254.decode(proof[:64])) != cap.signed.cell_commitments[0]


# ----------------------------------------------------------------------------- Poseidon formats


def test_format_1_captures_still_prove_and_verify(camera, store):
    """New Poseidon captures pack 31 bytes per field element (format 3); a format-1 capture
    (16 bytes) made the old way still proves and verifies, and the two formats commit the same
    cell differently (each is bound to its own format by the signed layout)."""
    from zkimg.hazmat.commitments import new_salt
    from zkimg.hazmat.poseidon_scheme import POSEIDON, POSEIDON_31, pack

    image = IMAGE[:8, :16].copy()
    layout = TileLayout(16, 8, 3, 8, 2, 1)
    salts = tuple(new_salt() for _ in layout.cells)
    cells = tuple(layout.commit_cells(image, salts))
    root = layout.root(cells)
    old = Capture(SignedCapture(layout, cells, root, camera.sign(capture_message(layout, root)), camera.public_key),
                  zkimg.CaptureSecrets(image, salts))
    pipeline = zkimg.Pipeline([zkimg.Contrast(1.2)])
    att = zkimg.prove(old, pipeline, store=store, executor=None)
    _verify(Attestation.loads(att.dumps()), pipeline.apply(image), camera, store)
    new = camera.capture(image, tile=8, border=2)
    assert new.signed.layout.version == 3 and new.signed.layout.scheme is POSEIDON_31
    cell = layout.cell_pixels(image, layout.cells[0])
    assert POSEIDON.commit(cell, salts[0]) != POSEIDON_31.commit(cell, salts[0])
    data = np.concatenate([cell.ravel(), np.frombuffer(salts[0], np.uint8)])
    assert len(pack(data, 31)) == -(-data.size // 31) and max(pack(data, 31)) < bn254.R
    assert pack([255] * 31, 31) == [256 ** 31 - 1]  # the largest group is below r: no wrap


def test_job_size_limit_counts_what_a_kzg_job_reads():
    """``max_job_values`` bounds a job before it is built. Under Poseidon a job hashes whole cells;
    under KZG the cells are committed columns and the circuit holds only what it reads, so the
    bound counts those positions (a 720p example edit at 64 px tiles, two per job, fits the
    default limit under KZG; counted in whole cells it would not)."""
    from zkimg.hazmat.plan import Plan

    width, height = 1280, 720
    pipeline = zkimg.Pipeline([zkimg.Crop(8, 8, width - 16, height - 16), zkimg.Resize((width - 16) // 2, (height - 16) // 2),
                               zkimg.GaussianBlur(3), zkimg.Contrast(1.25)])
    kzg = TileLayout(width, height, 3, 64, 0, 2, KZGScheme(14, srs_sha256="ab" * 32).params)
    poseidon = TileLayout(width, height, 3, 64, 0, 3)
    read = Plan(pipeline, kzg, max_out=64, tiles_per_job=2).max_job_values
    hashed = Plan(pipeline, poseidon, max_out=64, tiles_per_job=2).max_job_values
    assert read <= zkimg.Limits().max_job_values < hashed
    out = 32 * 64 * 3
    assert read - out <= (2 * 64 + 8 + 4) * (64 + 8 + 4) * 3  # two tiles and their halo, not whole neighbours
    # the README's KZG setting for this edit (96 px tiles, two a job, K = 15) fits the default too
    kzg15 = TileLayout(width, height, 3, 96, 0, 2, KZGScheme(15, srs_sha256="ab" * 32).params)
    assert Plan(pipeline, kzg15, max_out=96, tiles_per_job=2).max_job_values <= zkimg.Limits().max_job_values
