"""Real ezkl proofs of tile jobs, and one tamper test per verifier check."""

import dataclasses
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from helpers import kzg_spec, lookup_tables, photo_tile, table_steps

import zkimg
from zkimg.hazmat import FIELD_MODULUS, TileProof, commit, pack
from zkimg.hazmat.lowering import TileJob
from zkimg.hazmat.proving import generate_witness
from zkimg.transforms import all_examples

ALL = all_examples()

TILE = photo_tile("astronaut", 120, 200, 8, 8)


def prove_and_verify(store, job, tile, **kw):
    proved = zkimg.hazmat.prove_tile(job, tile, store=store, **kw)
    proof = TileProof.loads(proved.proof.dumps())  # through the wire format
    extra = ({"output_commitment": proof.output_commitment} if job.hidden_output else {"output": proved.output})
    result = zkimg.hazmat.verify_tile(proof, job, input_commitment=commit(tile, proved.salt), store=store, **extra)
    return proved, result


@pytest.mark.parametrize("t", ALL, ids=lambda t: f"{t.op}-{sorted(t.params().items())[:1]}")
def test_prove_and_verify_each_transform(store, t):
    if isinstance(t, zkimg.Crop):
        t = zkimg.Crop(1, 2, 5, 4)
    job = TileJob(zkimg.Pipeline([t]), TILE.shape)
    proved, result = prove_and_verify(store, job, TILE)
    assert np.array_equal(proved.output, t.apply(TILE))
    assert result.job == job and result.development_srs is True


def test_issue_example_crop_then_grayscale(store):
    tile = photo_tile("coffee", 200, 300, 16, 16)
    pipe = zkimg.Pipeline([zkimg.Crop(left=2, top=1, width=12, height=12), zkimg.Grayscale()])
    job = TileJob(pipe, tile.shape)
    proved, _ = prove_and_verify(store, job, tile)
    assert np.array_equal(proved.output, pipe.apply(tile))


def test_hidden_output(store):
    job = TileJob(zkimg.Pipeline([zkimg.GaussianBlur(3), zkimg.Resize(5, 5)]), TILE.shape, hidden_output=True)
    out_salt = bytes(range(16))
    proved, result = prove_and_verify(store, job, TILE, output_salt=out_salt)
    assert result.output_commitment == commit(job.apply(TILE), out_salt) == proved.proof.output_commitment
    assert "output" not in proved.proof.to_json()


# ------------------------------------------------------------------------- commitments


def test_native_commitment_equals_in_circuit(store):
    salt = zkimg.hazmat.new_salt()
    job = TileJob(zkimg.Pipeline([zkimg.Flip()]), TILE.shape)
    with tempfile.TemporaryDirectory() as tmp:
        w = generate_witness(store, job, TILE, salt, None, Path(tmp))
    assert w.input_commitment == commit(TILE, salt)


def test_salt_makes_commitments_hiding(store):
    flat = np.full((8, 8, 3), 200, np.uint8)  # a flat tile: guessable without a salt
    job = TileJob(zkimg.Pipeline([zkimg.Brightness(1.0)]), flat.shape)
    a = zkimg.hazmat.prove_tile(job, flat, store=store)
    b = zkimg.hazmat.prove_tile(job, flat, store=store)
    assert a.salt != b.salt and len(a.salt) == 16
    assert a.proof.input_commitment != b.proof.input_commitment
    assert commit(flat, a.salt) != commit(flat, b.salt)


def test_packing_is_only_injective_on_bytes():
    # Why the range check matters: without it, 256 in one digit equals a carry into the next.
    def raw(digits):  # pack without the check
        return sum(d * 256 ** i for i, d in enumerate(digits))

    assert raw([256, 0]) == raw([0, 1]) == pack([0, 1] + [0] * 14)[0]
    with pytest.raises(zkimg.InvalidImage):
        pack([256])


def assert_edited_witness_does_not_prove(store, job, tile, edit):
    """Generate an honest witness, apply ``edit(inputs)`` to its inputs, and check ezkl refuses to prove it."""
    import ezkl

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        w = generate_witness(store, job, tile, bytes(16), None, tmp)
        keys = store.keys(w.circuit)
        data = json.loads(w.path.read_text())
        edit(data["inputs"])
        w.path.write_text(json.dumps(data))
        with pytest.raises(BaseException) as e:
            ezkl.prove(str(w.path), str(w.circuit.compiled_path), str(keys.pk_path), str(tmp / "p.json"),
                       srs_path=str(keys.srs_path))
        assert not isinstance(e.value, (KeyboardInterrupt, SystemExit))
        assert not (tmp / "p.json").exists()


def _felt(v: int) -> str:
    return (v % FIELD_MODULUS).to_bytes(32, "little").hex()


@pytest.mark.parametrize("bad_value", [256, -1, 511])
def test_pixel_outside_byte_range_cannot_be_proved(store, bad_value):
    # One input value outside [0, 255] (as a field element): only the range check stops it.
    job = TileJob(zkimg.Pipeline([zkimg.Flip()]), TILE.shape)
    assert_edited_witness_does_not_prove(store, job, TILE, lambda inputs: inputs[0].__setitem__(0, _felt(bad_value)))
    with pytest.raises(zkimg.InvalidImage):  # and the public API refuses such a tile up front
        zkimg.hazmat.prove_tile(job, TILE.astype(np.int64) + 1, store=store)


def _edit_hint(hint: int, position: int, value):
    """A witness edit: ``value(q)`` replaces the ``position``-th quotient of hint ``hint``."""
    def edit(inputs):  # inputs: part_0, then hint_0 (the row pass), hint_1 (the column pass)
        q = int.from_bytes(bytes.fromhex(inputs[1 + hint][position]), "little")
        inputs[1 + hint][position] = _felt(value(q))
    return edit


@pytest.mark.parametrize("hint", [0, 1])
@pytest.mark.parametrize("delta", [1, -1])
def test_rounding_hint_off_by_one_cannot_be_proved(store, hint, delta):
    # A 3×3 Gaussian rounds through prover-supplied quotients (its divisor is too large for
    # the one-lookup path). Ceil instead of floor (delta=+1) or one less (delta=-1) leaves the
    # remainder outside [0, d): only the remainder lookup stops it. The two passes would
    # share weights and divisor, so the second is scaled by 2 (weights and divisor 512) and
    # each uses its own shifted tables (one constant per use, see zkimg.hazmat.lowering).
    job = TileJob(zkimg.Pipeline([zkimg.GaussianBlur(3)]), TILE.shape)
    assert len(store.circuit(job).hints) == 2
    assert_edited_witness_does_not_prove(store, job, TILE, _edit_hint(hint, 5, lambda q: q + delta))


def test_quotient_past_the_byte_table_cannot_be_proved(store):
    # A 3×3 Gaussian divides by 256, so each quotient table (arange(256) + s) gets one extra
    # entry, index 256 → quotient 255, to differ from its remainder table (arange(256) + s):
    # no two lookups may share a constant. Index 256 passes that lookup but means a quotient
    # of 255, and the remainder check then fails unless 255 is the true quotient.
    import onnx
    from onnx import numpy_helper

    from zkimg.hazmat.lowering import lower_circuit

    job = TileJob(zkimg.Pipeline([zkimg.GaussianBlur(3)]), TILE.shape)
    graph = onnx.load_from_string(lower_circuit(job.spec()).model).graph
    inits = {t.name: t for t in graph.initializer}
    hints = {i.name for i in graph.input if i.name.startswith("hint_")}
    q_tables = [numpy_helper.to_array(inits[n.input[0]]).astype(np.int64) for n in graph.node
                if n.op_type == "Gather" and n.input[1] in hints]
    assert len(q_tables) == 2
    s = q_tables[0][0]  # the first pass divides by 256: arange(256) + s, then index 256 → 255 + s
    assert s > 0 and np.array_equal(q_tables[0], np.append(np.arange(256) + s, 255 + s))
    s = q_tables[1][0]  # the second, scaled, by 512: no extra entry needed
    assert s > 0 and np.array_equal(q_tables[1], np.arange(256) + s)
    assert_edited_witness_does_not_prove(store, job, TILE, _edit_hint(0, 5, lambda q: 256))
    assert_edited_witness_does_not_prove(store, job, TILE, _edit_hint(1, 5, lambda q: 256))


@pytest.mark.parametrize("steps", [[zkimg.Resize(4, 4)], [zkimg.GaussianBlur(3)], [zkimg.GaussianBlur(5, 1.2)],
                                   [zkimg.Contrast(1.3), zkimg.Contrast(1.3), zkimg.Brightness(0.9)],
                                   [zkimg.BoxBlur(3), zkimg.Resize(3, 3), zkimg.GaussianBlur(3)],
                                   [zkimg.Grayscale(3), zkimg.Brightness(1.0), zkimg.Resize(12, 12),
                                    zkimg.GaussianBlur(3)],
                                   [zkimg.GaussianBlur(3), zkimg.GaussianBlur(3), zkimg.Resize(5, 5)],
                                   [zkimg.WhiteBalance((1.1, 0.9, 1.3)), zkimg.WhiteBalance((1.1, 0.9, 1.3))]],
                         ids=lambda s: "+".join(t.op for t in s))
def test_no_constant_feeds_two_nodes(store, steps):
    # ezkl 23.0.5 treats equal constants as one (whatever their shapes) and decomposes a
    # constant that feeds two nodes (≈23 rows per entry, plus two range-check lookups in
    # every proof): a floor table shared by a resize's two passes cost a third of a 32 px
    # job; a shared Gaussian weight or divisor ≈ 20 % of proving time and 1 kB of proof.
    # So every lookup table and every Mul/Add/Sub operand must be a distinct constant.
    import onnx
    from onnx import numpy_helper

    from zkimg.hazmat.lowering import lower_circuit

    job = TileJob(zkimg.Pipeline(steps), (8, 8, 3))
    graph = onnx.load_from_string(lower_circuit(job.spec()).model).graph
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    tables = lookup_tables(graph)
    assert len(tables) >= 2
    keys = [(t.shape, t.astype(np.int64).tobytes()) for t in tables]
    assert len(set(keys)) == len(keys)
    operands = [inits[i].astype(np.float32).ravel().tobytes() for n in graph.node
                if n.op_type in ("Mul", "Add", "Sub", "MatMul", "Concat") for i in n.input if i in inits]
    assert len(set(operands)) == len(operands)
    # the observable: ezkl decomposes no constant, so the circuit has no range-check table
    assert store.circuit(job).settings["required_range_checks"] == []
    # and the hidden inputs and hints are int64, indexing their range checks without a Cast
    # (ezkl lays out a float→int Cast as two copies of every value)
    assert not {n.input[0] for n in graph.node if n.op_type == "Cast"} & {i.name for i in graph.input}


def test_one_lookup_roundings_are_rescaled_only_while_their_table_stays_small():
    # Three identical one-lookup roundings, floor((3x + 5x + 8) / 16): the second is
    # rescaled (weights 6 and 10, table twice as long), the third would need a table past
    # ROUNDING_TABLE_MAX and keeps its constants (shared: more rows, same values).
    import onnx
    from onnx import numpy_helper

    from zkimg.hazmat.lowering import ROUNDING_TABLE_MAX, CircuitSpec, lower_circuit
    from zkimg.hazmat.primitives import WeightedSum

    w = 6
    same = tuple(range(w))
    step = WeightedSum(1, (same, same), ((3,) * w, (5,) * w), 16, 8)
    assert step.sum_max - step.offset + 1 <= ROUNDING_TABLE_MAX < 3 * (step.sum_max - step.offset + 1)
    spec = CircuitSpec((2 * w * 3,), (2, w, 3), None, (step,) * 3, (2, w, 3), False)
    graph = onnx.load_from_string(lower_circuit(spec).model).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    muls = [float(inits[n.input[1]].ravel()[0]) for n in graph.node if n.op_type == "Mul"]
    assert muls == [3, 5, 6, 10, 3, 5]
    tables = [len(t) for t in lookup_tables(graph)]
    assert max(tables) <= ROUNDING_TABLE_MAX


def test_int64_roundings_fold_where_a_rescaling_makes_their_tables_new(store, monkeypatch):
    # KZG graphs fold a rounding (quotient table d·q − offset, no offset Add, no Mul by d;
    # module doc) when some rescaling k makes its two tables new, else they take the general
    # form (a Mul by d, quotient table arange + s). To reach the general form, the graph is
    # told that every remainder table a fold could use, arange(256·k), is taken. Both forms
    # are exact (ezkl's witness is the numpy reference); their tamper tests are elsewhere.
    from onnx import load_from_string

    from zkimg.hazmat.kzg_scheme import KZGScheme
    from zkimg.hazmat.lowering import GraphBuilder, lower_circuit

    shape = (5, 6, 3)
    pipeline = zkimg.Pipeline([zkimg.Grayscale(1)])  # one rounding by 256
    spec = kzg_spec(pipeline, shape)
    uses = GraphBuilder.table_uses
    x = photo_tile("astronaut", 40, 30, *shape[:2])
    for taken in (False, True):
        if taken:
            monkeypatch.setattr(GraphBuilder, "table_uses", lambda g, t: 1 if np.array_equal(t, np.arange(len(t)))
                                else uses(g, t))
        graph = load_from_string(lower_circuit(spec).model).graph
        steps = set(table_steps(spec))
        muls = sum(n.op_type == "Mul" for n in graph.node)
        if taken:
            assert muls == 4 and 256 not in steps  # three weights and q·d
        else:
            assert muls == 3 and 256 in steps  # three weights; T[j] = 256·j − 128
        with tempfile.TemporaryDirectory() as tmp:
            w = generate_witness(store, spec, [x.ravel()], [KZGScheme.from_params(dict(spec.scheme_params)).new_salt()], None,
                                 Path(tmp))
        assert np.array_equal(w.output, pipeline.apply(x))


def test_small_divisors_round_by_one_lookup_without_hints(store):
    # 2× bilinear (weights 128/128 → 1/1, divisor 2) and a 3×3 box blur (divisor 9) need no
    # prover hint at all: the lookup into floor(v / d) is the division.
    for t in (zkimg.Resize(4, 4), zkimg.BoxBlur(3)):
        job = TileJob(zkimg.Pipeline([t]), TILE.shape)
        assert store.circuit(job).hints == ()
        proved, _ = prove_and_verify(store, job, TILE)
        assert np.array_equal(proved.output, t.apply(TILE))


# ------------------------------------------------------------------------- tamper tests


@pytest.fixture(scope="module")
def proved(store):
    job = TileJob(zkimg.Pipeline([zkimg.Brightness(1.2)]), TILE.shape)
    return job, zkimg.hazmat.prove_tile(job, TILE, store=store)


def verify(store, proof, job, c_in, output):
    return zkimg.hazmat.verify_tile(proof, job, input_commitment=c_in, output=output, store=store)


def test_untampered_verifies(store, proved):
    job, p = proved
    assert verify(store, p.proof, job, commit(TILE, p.salt), p.output).job == job


def test_one_output_pixel_changed_is_rejected(store, proved):
    job, p = proved
    out = p.output.copy()
    out[3, 4, 1] ^= 1
    with pytest.raises(zkimg.ProofInvalid):
        verify(store, p.proof, job, p.proof.input_commitment, out)


def test_output_of_wrong_shape_is_rejected(store, proved):
    job, p = proved
    with pytest.raises(zkimg.OutputMismatch):
        verify(store, p.proof, job, p.proof.input_commitment, p.output[:-1])
    with pytest.raises(zkimg.OutputMismatch):
        verify(store, p.proof, job, p.proof.input_commitment, p.output.astype(np.float32))


def test_different_transform_parameter_is_rejected(store, proved):
    job, p = proved
    other = TileJob(zkimg.Pipeline([zkimg.Brightness(1.3)]), TILE.shape)
    # the verifier expects Brightness(1.3): the proof's declaration does not match ...
    with pytest.raises(zkimg.CircuitMismatch):
        verify(store, p.proof, other, p.proof.input_commitment, other.apply(TILE))
    # ... and relabelling the proof does not help: the rebuilt circuit rejects it.
    forged = dataclasses.replace(p.proof, job=other)
    with pytest.raises(zkimg.ProofInvalid):
        verify(store, forged, other, p.proof.input_commitment, other.apply(TILE))


def test_different_input_commitment_is_rejected(store, proved):
    job, p = proved
    other_c = commit(TILE, zkimg.hazmat.new_salt())
    with pytest.raises(zkimg.CommitmentMismatch):
        verify(store, p.proof, job, other_c, p.output)
    forged = dataclasses.replace(p.proof, input_commitment=other_c)
    with pytest.raises(zkimg.ProofInvalid):
        verify(store, forged, job, other_c, p.output)


def test_proof_from_another_job_is_rejected(store, proved):
    job, p = proved
    other_job = TileJob(zkimg.Pipeline([zkimg.Contrast(1.2)]), TILE.shape)
    other = zkimg.hazmat.prove_tile(other_job, TILE, salt=p.salt, store=store)
    transplanted = dataclasses.replace(p.proof, proof=other.proof.proof)
    with pytest.raises(zkimg.ProofInvalid):
        verify(store, transplanted, job, p.proof.input_commitment, p.output)


def test_srs_mismatch_is_rejected(store, proved):
    job, p = proved
    forged = dataclasses.replace(p.proof, srs_digest="0" * 64)
    with pytest.raises(zkimg.SRSMismatch):
        verify(store, forged, job, p.proof.input_commitment, p.output)


def test_hidden_output_commitment_tampering_is_rejected(store):
    job = TileJob(zkimg.Pipeline([zkimg.Flip()]), TILE.shape, hidden_output=True)
    p = zkimg.hazmat.prove_tile(job, TILE, store=store)
    c_in = p.proof.input_commitment
    wrong = commit(job.apply(TILE), zkimg.hazmat.new_salt())
    with pytest.raises(zkimg.CommitmentMismatch):
        zkimg.hazmat.verify_tile(p.proof, job, input_commitment=c_in, output_commitment=wrong, store=store)
    with pytest.raises(zkimg.ProofInvalid):
        zkimg.hazmat.verify_tile(dataclasses.replace(p.proof, output_commitment=wrong), job, input_commitment=c_in,
                          output_commitment=wrong, store=store)
    with pytest.raises(zkimg.OutputMismatch):
        zkimg.hazmat.verify_tile(p.proof, job, input_commitment=c_in, output=job.apply(TILE), store=store)


def test_verifier_never_uses_a_provers_key(store, proved, tmp_path):
    """A verifier with its own cache rebuilds everything; the proof file carries no key."""
    job, p = proved
    assert set(p.proof.to_json()) == {"schema", "job", "input_commitment", "output_commitment",
                                      "srs_digest", "development_srs", "proof"}
    fresh = zkimg.CircuitStore(tmp_path / "verifier-cache", srs=store.srs)
    assert verify(fresh, p.proof, job, p.proof.input_commitment, p.output)
    assert fresh.stats.compiles == 1 and fresh.stats.setups == 1
    # keys are a pure function of (job, SRS): ezkl's setup is made deterministic
    mine, theirs = fresh.keys(fresh.circuit(job)), store.keys(store.circuit(job))
    assert mine.vk_path.read_bytes() == theirs.vk_path.read_bytes()


# ------------------------------------------------------------------------- cache and SRS


def test_second_proof_of_same_shape_does_no_setup(tmp_path):
    store = zkimg.CircuitStore(tmp_path / "cache")
    job = TileJob(zkimg.Pipeline([zkimg.Flip()]), (4, 4, 3))
    zkimg.hazmat.prove_tile(job, TILE[:4, :4], store=store)
    assert (store.stats.compiles, store.stats.setups) == (1, 1)
    zkimg.hazmat.prove_tile(job, TILE[4:, 4:], store=store)
    again = zkimg.CircuitStore(tmp_path / "cache")  # a new process would see the same disk
    zkimg.hazmat.prove_tile(job, TILE[:4, 4:], store=again)
    assert (store.stats.setups, again.stats.setups, again.stats.compiles) == (1, 0, 0)


def test_corrupt_cache_entry_is_rebuilt_not_trusted(tmp_path):
    store = zkimg.CircuitStore(tmp_path / "cache")
    job = TileJob(zkimg.Pipeline([zkimg.Flip("vertical")]), (4, 4, 3))
    p = zkimg.hazmat.prove_tile(job, TILE[:4, :4], store=store)
    keys = store.keys(store.circuit(job))
    with open(keys.vk_path, "r+b") as f:
        f.seek(40)
        f.write(b"\xff\xff\xff\xff")
    again = zkimg.CircuitStore(tmp_path / "cache")
    res = zkimg.hazmat.verify_tile(p.proof, job, input_commitment=p.proof.input_commitment,
                            output=p.output, store=again)
    assert res and again.stats.rebuilt_corrupt == 1 and again.stats.setups == 1


def test_ceremony_srs_directory_and_pinned_digest(tmp_path, store):
    job = TileJob(zkimg.Pipeline([zkimg.Flip()]), (4, 4, 3))
    k = store.circuit(job).logrows
    src = store.srs.path(k)
    (tmp_path / "srs").mkdir()
    (tmp_path / "srs" / f"kzg{k}.srs").write_bytes(src.read_bytes())
    good = zkimg.SRS.from_directory(tmp_path / "srs", {k: store.srs.digest(k)})
    p = zkimg.hazmat.prove_tile(job, TILE[:4, :4], store=zkimg.CircuitStore(tmp_path / "c1", srs=good))
    assert p.proof.development_srs is False
    bad = zkimg.SRS.from_directory(tmp_path / "srs", {k: "0" * 64})
    with pytest.raises(zkimg.CircuitError):
        zkimg.hazmat.prove_tile(job, TILE[:4, :4], store=zkimg.CircuitStore(tmp_path / "c2", srs=bad))
    with pytest.raises(zkimg.CircuitError):
        zkimg.hazmat.prove_tile(job, TILE[:4, :4],
                         store=zkimg.CircuitStore(tmp_path / "c3", srs=zkimg.SRS.from_directory(tmp_path / "none")))


def test_development_srs_warns(tmp_path):
    import warnings

    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        zkimg.SRS.development_srs(tmp_path).path(6)
    assert any(issubclass(x.category, zkimg.DevelopmentSRSWarning) for x in w)


# ------------------------------------------------------------------------- hostile proof files


@pytest.mark.parametrize("mutate", [
    lambda d: d.pop("proof"),
    lambda d: d.update(proof="zz"),
    lambda d: d.update(proof="ab" * (1 << 21)),
    lambda d: d.update(schema="zkimg.tile-proof/9"),
    lambda d: d.update(input_commitment="00" * 31),
    lambda d: d.update(input_commitment="ff" * 32),
    lambda d: d.update(output_commitment="00" * 32),
    lambda d: d.update(srs_digest=5),
    lambda d: d.update(development_srs="no"),
    lambda d: d["job"].update(input_shape=[8, 8, 99]),
    lambda d: d["job"].update(input_shape=[1 << 40, 8, 3]),
    lambda d: d["job"]["pipeline"]["steps"][0].update(factor="1.2"),
    lambda d: d.update(extra=1),
])
def test_malformed_tile_proofs_are_invalid_bundle(proved, mutate):
    _, p = proved
    d = json.loads(p.proof.dumps())
    mutate(d)
    with pytest.raises(zkimg.InvalidBundle):
        TileProof.loads(json.dumps(d))


@pytest.mark.parametrize("text", [b"", b"\xff\xfe", b"null", b"[1]", b"{" * 50000])
def test_garbage_tile_proofs_are_invalid_bundle(text):
    with pytest.raises(zkimg.InvalidBundle):
        TileProof.loads(text)
