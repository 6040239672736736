"""Hostile inputs: property-based fuzzing of everything that parses untrusted bytes.

Every case must end in a typed :class:`zkimg.Error` or a valid result — never another
exception, a hang (hypothesis' deadline) or unbounded memory (declared sizes are checked
before anything is allocated). ``HYPOTHESIS_PROFILE=fuzz`` runs 10,000 cases per test
(see tests/README.md); the default CI profile runs a few hundred.
"""

import base64
import copy
import gzip
import io
import json
import time
import zipfile

import numpy as np
import pytest
from helpers import dev_policy, photo_tile
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import zkimg
from zkimg.bundle import Attestation
from zkimg.camera import CaptureSecrets

PHOTO = photo_tile("astronaut", 200, 220, 16, 16)
PIPE = zkimg.Pipeline([zkimg.Flip()])
SLOW = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
#: properties that run a full verify() per case are capped (≈0.1–1 s each)
VERIFYING = settings(SLOW, max_examples=min(settings.default.max_examples, 1000), deadline=None)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80) | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def bundle(store, camera):
    shot = camera.capture(PHOTO, tile=8, border=2)
    att = zkimg.prove(shot, PIPE, store=store)
    return att.dumps()


def _verify(raw: bytes, camera, store):
    """Load and verify untrusted bytes; returns the result or the typed error."""
    try:
        att = Attestation.loads(raw)
        return zkimg.verify(att, PIPE.apply(PHOTO), policy=dev_policy([camera.public_key]), store=store)
    except zkimg.Error as e:
        return e


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:3]):
            yield from _paths(v, prefix + (i,))


def _replace(obj, path, value):
    if not path:
        return value
    obj = copy.deepcopy(obj)
    cur = obj
    for k in path[:-1]:
        cur = cur[k]
    cur[path[-1]] = value
    return obj


def test_valid_bundle_verifies(bundle, camera, store):
    assert isinstance(_verify(bundle, camera, store), zkimg.Verification)


@given(raw=st.binary(max_size=2048))
def test_random_bytes_are_a_typed_error(raw):
    with pytest.raises(zkimg.InvalidBundle):
        Attestation.loads(raw)


@SLOW
@given(data=st.data())
def test_truncated_bundle_is_invalid(bundle, data):
    n = data.draw(st.integers(0, len(bundle) - 1))
    with pytest.raises(zkimg.InvalidBundle):
        Attestation.loads(bundle[:n])


@VERIFYING
@given(data=st.data())
def test_bit_flipped_bundle_never_verifies_unless_unchanged(bundle, camera, store, data):
    i = data.draw(st.integers(0, len(bundle) - 1))
    bit = data.draw(st.integers(0, 7))
    raw = bytearray(bundle)
    raw[i] ^= 1 << bit
    res = _verify(bytes(raw), camera, store)
    if isinstance(res, zkimg.Verification):  # only a flip that changes nothing may pass
        assert Attestation.loads(bytes(raw)).dumps() == bundle
    else:
        assert isinstance(res, zkimg.Error)


def test_compressed_bundle_loads_and_hostile_gzip_is_typed(bundle, camera, store):
    att = Attestation.loads(bundle)
    packed = att.dumps(compress=True)
    assert packed[:2] == b"\x1f\x8b" and Attestation.loads(packed) == att
    assert isinstance(_verify(packed, camera, store), zkimg.Verification)
    crc_broken = packed[:-8] + bytes([packed[-8] ^ 1]) + packed[-7:]
    for raw in (packed[:-1], packed[:len(packed) // 2], packed[:10], b"\x1f\x8b", packed + b"\0",
                packed + packed, crc_broken, gzip.compress(b"not json"), gzip.compress(packed)):
        assert isinstance(_verify(raw, camera, store), zkimg.InvalidBundle)
    # inflation stops at the limit: a 64 MB bomb is never inflated whole ...
    import tracemalloc

    bomb = gzip.compress(b" " * (64 << 20) + bundle)
    tracemalloc.start()
    try:
        with pytest.raises(zkimg.InvalidBundle, match="inflates past"):
            Attestation.loads(bomb, limits=zkimg.Limits(max_bundle_bytes=1 << 20))
        assert tracemalloc.get_traced_memory()[1] < 8 << 20
    finally:
        tracemalloc.stop()
    # ... and a compressed bundle over the limit is not inflated at all
    with pytest.raises(zkimg.InvalidBundle, match="larger than"):
        Attestation.loads(packed, limits=zkimg.Limits(max_bundle_bytes=len(packed) - 1))


@VERIFYING
@given(data=st.data())
def test_bit_flipped_compressed_bundle_never_verifies_unless_unchanged(bundle, camera, store, data):
    packed = Attestation.loads(bundle).dumps(compress=True)
    i = data.draw(st.integers(0, len(packed) - 1))
    raw = bytearray(packed)
    raw[i] ^= 1 << data.draw(st.integers(0, 7))
    res = _verify(bytes(raw), camera, store)
    if isinstance(res, zkimg.Verification):  # only a flip that changes nothing (e.g. a gzip header flag)
        assert Attestation.loads(bytes(raw)).dumps() == bundle
    else:
        assert isinstance(res, zkimg.Error)


@VERIFYING
@given(data=st.data(), value=json_values)
def test_any_field_replaced_by_any_json_is_typed(bundle, camera, store, data, value):
    doc = json.loads(bundle)
    path = data.draw(st.sampled_from(list(_paths(doc))))
    mutated = _replace(doc, path, value)
    assume(mutated != doc)
    res = _verify(json.dumps(mutated).encode(), camera, store)
    assert isinstance(res, zkimg.Error), f"{path} = {value!r} was accepted"


def test_every_field_with_every_wrong_type_is_typed(bundle, camera, store):
    doc = json.loads(bundle)
    for path in _paths(doc):
        for value in (None, True, "x", 1.5, [], {}, -1, 2**70, [[]], {"a": 1}):
            if _get(doc, path) == value and type(_get(doc, path)) is type(value):
                continue
            res = _verify(json.dumps(_replace(doc, path, value)).encode(), camera, store)
            assert isinstance(res, zkimg.Error), f"{path} = {value!r} was accepted"


HUGE = [2**31, 2**63, 2**64 + 1, 10**30, -1, -(2**63), 0]


@VERIFYING
@given(data=st.data(), value=st.sampled_from(HUGE))
def test_huge_numbers_are_refused_quickly(bundle, camera, store, data, value):
    doc = json.loads(bundle)
    numeric = [p for p in _paths(doc) if isinstance(_get(doc, p), int) and not isinstance(_get(doc, p), bool)]
    path = data.draw(st.sampled_from(numeric))
    assume(_get(doc, path) != value)
    t = time.monotonic()
    res = _verify(json.dumps(_replace(doc, path, value)).encode(), camera, store)
    assert isinstance(res, zkimg.Error) and time.monotonic() - t < 10  # refused, not worked on


def _get(obj, path):
    for k in path:
        obj = obj[k]
    return obj


@pytest.mark.parametrize("width,height,tile", [(65536, 65536, 4), (10**9, 10**9, 4096), (60000, 60000, 4)])
def test_enormous_declared_image_is_refused_before_allocation(bundle, width, height, tile):
    doc = json.loads(bundle)
    doc["capture"]["layout"].update(width=width, height=height, tile=tile)
    with pytest.raises(zkimg.InvalidBundle):  # would enumerate billions of cells if unchecked
        Attestation.loads(json.dumps(doc))


def test_deep_nesting_and_wrong_versions(bundle):
    for raw in (b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000):
        with pytest.raises(zkimg.InvalidBundle):
            Attestation.loads(raw)
    doc = json.loads(bundle)
    for version in (0, 1, 3, "2", 2.0, True, None):  # 1: before plan.tiles_per_job
        with pytest.raises(zkimg.InvalidBundle):
            Attestation.loads(json.dumps({**doc, "schema_version": version}))


def test_limits_are_configurable(bundle):
    small = zkimg.Limits(max_bundle_bytes=100)
    with pytest.raises(zkimg.InvalidBundle, match="100"):
        Attestation.loads(bundle, limits=small)
    with pytest.raises(zkimg.InvalidBundle, match="pixels"):
        Attestation.loads(bundle, limits=zkimg.Limits(max_image_pixels=100))
    with pytest.raises(zkimg.InvalidBundle, match="proof"):
        Attestation.loads(bundle, limits=zkimg.Limits(max_proof_bytes=100))
    assert Attestation.loads(bundle, limits=zkimg.Limits()).dumps() == bundle
    with pytest.raises(zkimg.InvalidParameter):
        zkimg.Limits(max_cells=0)


# ----------------------------------------------------------------------------- keys


@given(raw=st.binary(max_size=600))
def test_random_key_bytes_are_a_typed_error(raw):
    for load in (zkimg.PublicKey.from_der, zkimg.PublicKey.from_pem):
        try:
            key = load(raw)
        except zkimg.Error:
            continue
        assert isinstance(key, zkimg.PublicKey)


@SLOW
@given(data=st.data())
def test_mutated_key_files_are_typed(camera, tmp_path, data):
    pem = camera.public_key.pem().encode()
    i = data.draw(st.integers(0, len(pem) - 1))
    raw = pem[:i] + bytes([data.draw(st.integers(0, 255))]) + pem[i + 1:]
    try:
        zkimg.PublicKey.from_pem(raw)
    except zkimg.Error:
        pass
    path = tmp_path / "cam.pem"
    path.write_bytes(raw)
    try:
        zkimg.Camera.load(path)
    except zkimg.Error:
        pass


# ----------------------------------------------------------------------------- secrets and images


@SLOW
@given(raw=st.binary(max_size=4096))
def test_random_secrets_file_is_typed(tmp_path, raw):
    path = tmp_path / "s.npz"
    path.write_bytes(raw)
    with pytest.raises(zkimg.Error):
        CaptureSecrets.load(path)


def test_secrets_file_declaring_a_huge_array_is_refused(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:  # 4 GB of zeros, tiny file
        header = np.lib.format.header_data_from_array_1_0(np.zeros((1, 1, 3), np.uint8))
        header["shape"] = (40000, 40000, 3)
        f = io.BytesIO()
        np.lib.format.write_array_header_1_0(f, header)
        z.writestr("pixels.npy", f.getvalue() + b"\0" * 1024)
        z.writestr("salts.npy", b"")
    path = tmp_path / "bomb.npz"
    path.write_bytes(buf.getvalue())
    with pytest.raises(zkimg.InvalidRecord):
        CaptureSecrets.load(path)


@given(shape=st.lists(st.integers(0, 5), min_size=0, max_size=4),
       dtype=st.sampled_from([np.uint8, np.int16, np.float32, np.bool_, np.uint16]))
def test_any_array_is_a_valid_image_or_typed_error(shape, dtype):
    arr = np.zeros(shape, dtype=dtype)
    try:
        out = PIPE.apply(arr)
    except zkimg.Error:
        return
    assert out.dtype == np.uint8 and arr.dtype == np.uint8 and arr.ndim == 3


def test_non_arrays_are_typed_errors():
    for bad in (None, "image", [[1, 2]], b"\x00" * 12, 3.5):
        with pytest.raises(zkimg.Error):
            PIPE.apply(bad)


def test_proof_field_garbage_is_invalid_bundle(bundle):
    doc = json.loads(bundle)
    for proof in ("", "!!", base64.b64encode(b"x").decode() + "=", "A" * (10**6), "A" * (4 * 10**5 + 4)):
        doc["segments"][0]["proofs"][0] = proof
        with pytest.raises(zkimg.InvalidBundle):
            Attestation.loads(json.dumps(doc))


# ----------------------------------------------------------------- image files, pipeline files, manifests

def _png(arr) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


@given(raw=st.binary(max_size=4096))
def test_random_image_bytes_are_a_typed_error(raw):
    try:
        img = zkimg.read_image(raw)
        assert img.dtype == np.uint8 and img.ndim == 3
    except zkimg.InvalidImage:
        pass


@SLOW
@given(data=st.data())
def test_mutated_image_files_are_typed(data):
    raw = bytearray(_png(PHOTO))
    for _ in range(data.draw(st.integers(1, 8))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    try:
        img = zkimg.read_image(bytes(raw[:cut]))
        assert img.dtype == np.uint8 and img.shape[2] in (1, 2, 3, 4)
    except zkimg.InvalidImage:
        pass


def _pipeline_or_typed(path, text: str) -> None:
    path.write_text(text)
    try:
        assert isinstance(zkimg.load_pipeline(path), zkimg.Pipeline)
    except zkimg.InvalidPipelineFile:
        pass


@SLOW
@given(doc=json_values)
def test_any_pipeline_document_is_a_pipeline_or_typed(tmp_path, doc):
    _pipeline_or_typed(tmp_path / "p.json", json.dumps(doc))


@SLOW
@given(text=st.text(max_size=300))
def test_any_yaml_text_is_a_pipeline_or_typed(tmp_path, text):
    _pipeline_or_typed(tmp_path / "p.yaml", text)


def test_yaml_bombs_are_refused_quickly(tmp_path):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(12)) + "steps: [{crop: {left: *m, top: 0, width: 1, height: 1}}]\n"
    for text in (bomb, "[" * 20000 + "]" * 20000, "{a: " * 5000 + "1" + "}" * 5000):
        (tmp_path / "p.yaml").write_text(text)
        t = time.perf_counter()
        with pytest.raises(zkimg.InvalidPipelineFile):
            zkimg.load_pipeline(tmp_path / "p.yaml")
        assert time.perf_counter() - t < 5


@SLOW
@given(data=st.data())
def test_mutated_c2pa_images_are_typed(tmp_path_factory, bundle, data):
    pytest.importorskip("c2pa")
    from zkimg import manifest

    d = tmp_path_factory.getbasetemp() / "fuzz-c2pa"
    if not (d / "signed.png").exists():  # one real signed image with a real bundle, made once
        d.mkdir(exist_ok=True)
        _sign_any(d, bundle)
    raw = bytearray((d / "signed.png").read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    path = tmp_path_factory.mktemp("m") / "x.png"
    path.write_bytes(bytes(raw[:data.draw(st.integers(0, len(raw)))]))
    try:
        assert isinstance(manifest.read(path).attestation, Attestation)
    except (zkimg.ManifestError, zkimg.InvalidBundle):
        pass


def _sign_any(d, bundle: bytes):
    import c2pa

    from zkimg import manifest

    signer, _ = manifest.development_signer(d)
    (d / "plain.png").write_bytes(_png(PHOTO))
    m = {"claim_generator_info": [{"name": "zkimg-fuzz", "version": "0"}], "title": "x", "format": "image/png",
         "assertions": [{"label": "c2pa.actions", "data": {"actions": [{
                            "action": "c2pa.created",
                            "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"}]}},
                        {"label": manifest.ASSERTION_LABEL,
                         "data": {"media_type": zkimg.bundle.MEDIA_TYPE, "bundle": base64.b64encode(bundle).decode()}}]}
    with open(d / "plain.png", "rb") as s, open(d / "signed.png", "w+b") as o:
        c2pa.Builder(m).sign(signer.c2pa_signer(), "image/png", s, o)
