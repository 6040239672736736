"""C2PA manifests carrying the bundle: round trip on PNG, trust, sidecars, hostile manifests."""

import base64
import json
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from helpers import dev_policy, photo_tile

import zkimg
from zkimg import manifest
from zkimg.images import read_image, write_image

c2pa = pytest.importorskip("c2pa")

PHOTO = photo_tile("chelsea", 50, 120, 17, 23)  # same geometry and edit as test_cli: keys are reused
PIPE = zkimg.Pipeline([zkimg.Crop(1, 2, 20, 14), zkimg.Grayscale(), zkimg.Contrast(1.5)])


@pytest.fixture(scope="module")
def made(store, tmp_path_factory):
    d = tmp_path_factory.mktemp("c2pa")
    cam = zkimg.Camera.generate("P-256")
    att = zkimg.prove(cam.capture(PHOTO, tile=16), PIPE, store=store, executor=ThreadPoolExecutor(1))
    write_image(d / "edit.png", PIPE.apply(PHOTO))
    signer, ca = manifest.development_signer(d / "pki")
    return d, cam, att, signer, ca.read_bytes()


def test_round_trip_on_png(made, store):
    d, cam, att, signer, ca = made
    out = manifest.embed(d / "edit.png", att, signer, d / "signed.png")
    assert out.sidecar is None
    pixels = read_image(d / "signed.png")
    assert np.array_equal(pixels, read_image(d / "edit.png"))  # the manifest changes no pixel
    got = manifest.read(d / "signed.png", trust_anchors=ca)
    assert got.attestation == att and got.validation_state == "Trusted" and not got.failures
    assert zkimg.verify(got.attestation, pixels, policy=dev_policy([cam.public_key]), store=store).tiles == len(att.proofs)
    untrusted = manifest.read(d / "signed.png")  # without the CA: valid, not trusted
    assert untrusted.validation_state == "Valid" and "signingCredential.untrusted" in untrusted.failures
    with c2pa.Reader(str(d / "signed.png")) as r:
        m = json.loads(r.json())
    active = m["manifests"][m["active_manifest"]]
    actions = [a for a in active["assertions"] if a["label"].startswith("c2pa.actions")][0]["data"]["actions"]
    assert [a["action"] for a in actions] == ["c2pa.opened", "c2pa.cropped", "c2pa.color_adjustments",
                                              "c2pa.color_adjustments"]
    parent = active["ingredients"][0]
    assert parent["relationship"] == "parentOf"
    assert parent["instance_id"] == "zkimg:capture-root:" + att.capture.root.to_bytes(32, "little").hex()
    assert "thumbnail" not in parent  # nothing of the hidden original travels


def test_large_bundle_goes_to_a_sidecar(made, store, monkeypatch):
    d, cam, att, signer, ca = made
    monkeypatch.setattr(manifest, "MAX_MANIFEST_JSON", 8192)  # as if the bundle were over 1 MiB
    out = manifest.embed(d / "edit.png", att, signer, d / "side.png")
    assert out.sidecar == d / "side.png.zkimg" and out.sidecar.read_bytes() == att.dumps(compress=True)
    got = manifest.read(d / "side.png", trust_anchors=ca)
    assert got.attestation == att and got.sidecar == out.sidecar
    zkimg.verify(got.attestation, read_image(d / "side.png"), policy=dev_policy([cam.public_key]), store=store)
    data = bytearray(out.sidecar.read_bytes())
    data[-3] ^= 1  # the sidecar no longer matches the SHA-256 the signed manifest holds
    out.sidecar.write_bytes(bytes(data))
    with pytest.raises(zkimg.InvalidBundle, match="SHA-256"):
        manifest.read(d / "side.png")
    out.sidecar.unlink()
    with pytest.raises(zkimg.ManifestError, match="sidecar"):
        manifest.read(d / "side.png")


def _sign_payload(d, att, signer, payload, name):
    """Sign an arbitrary zkimg assertion (a hostile or broken manifest) into a copy of edit.png."""
    b = c2pa.Builder(manifest.manifest_definition(att, name, "image/png", payload))
    with open(d / "edit.png", "rb") as s, open(d / name, "w+b") as o:
        b.sign(signer.c2pa_signer(), "image/png", s, o)
    return d / name


@pytest.mark.parametrize("payload", [
    {"media_type": "text/plain", "bundle": ""},
    {"media_type": zkimg.bundle.MEDIA_TYPE, "bundle": "not base64!"},
    {"media_type": zkimg.bundle.MEDIA_TYPE, "bundle": base64.b64encode(b"{}").decode()},
    {"media_type": zkimg.bundle.MEDIA_TYPE, "bundle": 7},
    {"media_type": zkimg.bundle.MEDIA_TYPE, "sidecar": {"name": "../../etc/passwd", "sha256": "00" * 32}},
    {"media_type": zkimg.bundle.MEDIA_TYPE, "sidecar": "x"},
    {"media_type": zkimg.bundle.MEDIA_TYPE, "sidecar": {"name": "a\x00b", "sha256": "00" * 32}},
    {"media_type": zkimg.bundle.MEDIA_TYPE, "sidecar": {"name": "a\nb.zkimg", "sha256": "00" * 32}},
    {"media_type": zkimg.bundle.MEDIA_TYPE, "sidecar": {"name": "x" * 300, "sha256": "00" * 32}},
    ["not", "an", "object"],
])
def test_hostile_assertions_are_invalid_bundles(made, payload):
    d, cam, att, signer, ca = made
    path = _sign_payload(d, att, signer, payload, "hostile.png")
    with pytest.raises(zkimg.InvalidBundle):
        manifest.read(path)


def test_no_manifest_or_no_zkimg_assertion(made):
    d, cam, att, signer, ca = made
    with pytest.raises(zkimg.ManifestError, match="no C2PA manifest"):
        manifest.read(d / "edit.png")
    m = manifest.manifest_definition(att, "x.png", "image/png", {})
    m["assertions"] = [a for a in m["assertions"] if a["label"] != manifest.ASSERTION_LABEL]
    b = c2pa.Builder(m)
    with open(d / "edit.png", "rb") as s, open(d / "other.png", "w+b") as o:
        b.sign(signer.c2pa_signer(), "image/png", s, o)
    with pytest.raises(zkimg.ManifestError, match="no org.zkimg.attestation"):
        manifest.read(d / "other.png")


def _chunks(png: bytes):
    i = 8
    while i < len(png):
        n = int.from_bytes(png[i:i + 4], "big")
        yield png[i + 4:i + 8], i, n
        i += 12 + n


def test_changed_pixels_break_both_c2pa_binding_and_proof(made, store):
    d, cam, att, signer, ca = made
    manifest.embed(d / "edit.png", att, signer, d / "signed2.png")
    png = (d / "signed2.png").read_bytes()
    kind, at, n = next(c for c in _chunks(png) if c[0] == b"IDAT")
    raw = bytearray(zlib.decompress(png[at + 8:at + 8 + n]))
    raw[5] ^= 1  # one pixel value (row 0, past the filter byte), stream re-compressed validly
    body = zlib.compress(bytes(raw))
    chunk = len(body).to_bytes(4, "big") + b"IDAT" + body + zlib.crc32(b"IDAT" + body).to_bytes(4, "big")
    (d / "forged.png").write_bytes(png[:at] + chunk + png[at + 12 + n:])
    got = manifest.read(d / "forged.png", trust_anchors=ca)
    assert got.validation_state == "Invalid" and "assertion.dataHash.mismatch" in got.failures
    with pytest.raises(zkimg.ProofInvalid):  # zkimg's own check, independent of C2PA
        zkimg.verify(got.attestation, read_image(d / "forged.png"), policy=dev_policy([cam.public_key]), store=store)


def test_signer_validation(tmp_path):
    with pytest.raises(zkimg.InvalidParameter):
        manifest.ManifestSigner(b"junk", b"junk")
    signer, _ = manifest.development_signer(tmp_path)
    with pytest.raises(zkimg.InvalidParameter):
        manifest.ManifestSigner(signer.certificate_chain, signer.private_key, algorithm="md5")
    assert "PRIVATE" not in repr(signer)
    assert (tmp_path / "signer-key.pem").stat().st_mode & 0o777 == 0o600
