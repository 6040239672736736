"""Camera keys, tiled cell commitments, roots and signatures."""

import dataclasses
import os
import stat

import numpy as np
import pytest
from helpers import photo_tile

import zkimg
from zkimg.camera import Camera, CaptureSecrets, PublicKey, capture_message
from zkimg.hazmat import commit
from zkimg.hazmat.poseidon_scheme import POSEIDON_31
from zkimg.hazmat.tiles import TileLayout

PHOTO = photo_tile("astronaut", 0, 0, 37, 45)  # not a multiple of the tile size


@pytest.mark.parametrize("curve", ["Ed25519", "P-256"])
def test_keys_round_trip_and_sign(tmp_path, curve):
    cam = Camera.generate(curve)
    cam.save(tmp_path / "cam.pem")
    assert stat.S_IMODE(os.stat(tmp_path / "cam.pem").st_mode) == 0o600
    again = Camera.load(tmp_path / "cam.pem")
    assert again.public_key == cam.public_key and len(cam.public_key.key_id) == 64
    pub = PublicKey.from_pem(cam.public_key.pem())
    sig = again.sign(b"message")
    pub.verify(b"message", sig)
    with pytest.raises(zkimg.SignatureInvalid):
        pub.verify(b"messagf", sig)
    cam.save(tmp_path / "enc.pem", passphrase="s3cret")
    assert Camera.load(tmp_path / "enc.pem", passphrase="s3cret").public_key == cam.public_key
    with pytest.raises(zkimg.InvalidKey):
        Camera.load(tmp_path / "enc.pem", passphrase="wrong")


@pytest.mark.parametrize("data", [b"", b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
                                  os.urandom(64), b"x" * 100000])
def test_hostile_key_bytes_are_invalid_key(data):
    with pytest.raises(zkimg.InvalidKey):
        PublicKey.from_pem(data)


def test_layout_cells_cover_the_image_once():
    layout = TileLayout(45, 37, 3, 16, 4)
    idx = layout.cell_index()
    counts = np.bincount(idx.ravel(), minlength=len(layout.cells))
    assert counts.sum() == 45 * 37
    assert all(counts[i] == (c.r1 - c.r0) * (c.c1 - c.c0) for i, c in enumerate(layout.cells))
    assert layout.grid == (3, 3)
    # a full 16-px tile has 3×3 cells; the 5-row edge (≤ 2·border) has one band, 13 columns three
    assert sum(1 for c in layout.cells if c.tile == (0, 0)) == 9
    assert sum(1 for c in layout.cells if c.tile == (2, 2)) == 3


def test_capture_commits_cells_and_signs_the_root(tmp_path):
    cam = Camera.generate()
    seen = []
    cap = cam.capture(PHOTO, tile=16, border=4, progress=lambda *a: seen.append(a))
    n = len(cap.signed.cell_commitments)
    assert seen == [("commit", i, n) for i in range(n + 1)]
    s = cap.signed
    s.verify()
    cell0 = s.layout.cells[0]
    assert s.cell_commitments[0] == s.layout.scheme.commit(s.layout.cell_pixels(PHOTO, cell0), cap.secrets.salts[0])
    assert s.layout.scheme.commit(s.layout.cell_pixels(PHOTO, cell0), cap.secrets.salts[0]) != commit(
        s.layout.cell_pixels(PHOTO, cell0), cap.secrets.salts[0])  # format 3 packs 31 bytes, format 1 16
    assert len(set(cap.secrets.salts)) == len(cap.secrets.salts)  # fresh salt per cell
    again = cam.capture(PHOTO, tile=16, border=4)
    assert again.signed.root != s.root  # salted: the same photo commits differently
    cap.secrets.save(tmp_path / "secret.npz")
    assert stat.S_IMODE(os.stat(tmp_path / "secret.npz").st_mode) == 0o600
    loaded = CaptureSecrets.load(tmp_path / "secret.npz")
    assert np.array_equal(loaded.pixels, PHOTO) and loaded.salts == cap.secrets.salts


def test_tampered_captures_are_rejected():
    cam = Camera.generate()
    s = cam.capture(PHOTO, tile=16, border=4).signed
    cells = list(s.cell_commitments)
    cells[3] ^= 1
    with pytest.raises(zkimg.RootMismatch):
        dataclasses.replace(s, cell_commitments=tuple(cells)).verify()
    with pytest.raises(zkimg.SignatureInvalid):
        dataclasses.replace(s, signature=bytes(len(s.signature))).verify()
    with pytest.raises(zkimg.SignatureInvalid):
        dataclasses.replace(s, camera_key=Camera.generate().public_key).verify()
    bigger = dataclasses.replace(s, layout=dataclasses.replace(s.layout, border=3))
    with pytest.raises(zkimg.VerificationError):
        bigger.verify()
    assert capture_message(s.layout, s.root) != capture_message(bigger.layout, s.root)


def test_default_tile_and_border():
    cam = Camera.generate()
    x = np.zeros((9, 10, 3), np.uint8)
    assert (cam.capture(x).signed.layout.tile, cam.capture(x).signed.layout.border) == (32, 2)
    assert cam.capture(x, tile=4).signed.layout.border == 1  # never more than a quarter tile
    with pytest.raises(zkimg.InvalidParameter):
        cam.capture(x, tile=3)


def test_capture_refuses_secrets_of_another_capture():
    cam = Camera.generate()
    a, b = cam.capture(PHOTO, tile=16), cam.capture(PHOTO, tile=16)  # same pixels, other salts
    with pytest.raises(zkimg.InvalidParameter, match="not the ones"):
        zkimg.Capture(a.signed, b.secrets)
    with pytest.raises(zkimg.InvalidParameter, match="not the ones"):
        zkimg.Capture(a.signed, zkimg.CaptureSecrets(PHOTO[:-1], a.secrets.salts))
    salts = list(a.secrets.salts)
    salts[-1] = b.secrets.salts[-1]  # only the last cell differs
    with pytest.raises(zkimg.InvalidParameter, match="cell"):
        zkimg.Capture(a.signed, zkimg.CaptureSecrets(PHOTO, tuple(salts)))
    assert zkimg.Capture(a.signed, a.secrets).signed is a.signed


def test_parallel_capture_commits_exactly_as_serial(monkeypatch):
    """Large images are hashed on a process pool; the commitments are the same, in cell order."""
    import zkimg.camera

    monkeypatch.setattr(zkimg.camera, "PARALLEL_CELLS", 1)  # use the default pool even for this small image
    cam = Camera.generate()
    seen = []
    cap = cam.capture(PHOTO, tile=8, progress=lambda *a: seen.append(a))
    lay = cap.signed.layout
    assert list(cap.signed.cell_commitments) == lay.commit_cells(PHOTO, cap.secrets.salts)
    assert seen[0] == ("commit", 0, lay.cell_count) and seen[-1] == ("commit", lay.cell_count, lay.cell_count)
    cap.signed.verify()


def test_a_capture_names_its_commitment_scheme():
    """The layout version (the capture format) names the scheme; it is signed, and a record
    naming a scheme zkimg does not know is refused as malformed, not guessed at."""
    shot = Camera.generate().capture(PHOTO, tile=16)
    d = shot.signed.to_json()
    assert d["layout"]["version"] == 3 and shot.signed.layout.scheme is POSEIDON_31
    assert capture_message(shot.signed.layout, shot.signed.root)[-56:-52] == (3).to_bytes(4, "big")
    for version in (4, 0, True, "1"):
        bad = {**d, "layout": {**d["layout"], "version": version}}
        with pytest.raises(zkimg.InvalidRecord, match="version"):
            zkimg.SignedCapture.from_json(bad)


def test_secrets_with_a_malformed_pixel_array_are_an_invalid_record(tmp_path):
    shot = Camera.generate().capture(PHOTO, tile=16)
    shot.secrets.save(tmp_path / "ok.npz")
    for pixels in (PHOTO[..., 0], np.zeros((4, 4, 5), np.uint8)):
        np.savez(tmp_path / "bad.npz", pixels=pixels, salts=np.frombuffer(b"".join(shot.secrets.salts), np.uint8))
        with pytest.raises(zkimg.InvalidRecord):
            CaptureSecrets.load(tmp_path / "bad.npz")
