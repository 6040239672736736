"""Output files: checked before any work, written all together or not at all, never under a
temporary name the user sees."""

import os

import pytest
from helpers import photo_tile

import zkimg
from zkimg import cli
from zkimg.images import write_image

PHOTO = photo_tile("astronaut", 40, 60, 12, 20)


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def captured(tmp_path):
    """A capture made through the CLI (no proof: everything here is refused before proving)."""
    write_image(tmp_path / "photo.png", PHOTO)
    assert cli.main(["keygen", "-q", "-o", str(tmp_path / "camera.pem")]) == 0
    assert cli.main(["capture", "-q", str(tmp_path / "photo.png"), "--key", str(tmp_path / "camera.pem"),
                     "--tile", "8"]) == 0
    return ["prove", "--capture", tmp_path / "photo.capture.json", "--secrets", tmp_path / "photo.secrets.npz",
            "--cache", tmp_path / "cache", "--grayscale"]


def _proving_forbidden(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("proving started")

    monkeypatch.setattr("zkimg.attest.prove_plan", refuse)
    monkeypatch.setattr("zkimg.costs.estimate", refuse)


@pytest.mark.parametrize("where", ["out", "image"])
def test_a_missing_output_folder_is_refused_before_proving(captured, tmp_path, capsys, monkeypatch, where):
    _proving_forbidden(monkeypatch)
    out = tmp_path / ("nodir" if where == "out" else "") / "b.zkimg"
    image = tmp_path / ("nodir" if where == "image" else "") / "x.png"
    code, _, err = run(capsys, *captured, "-o", out, "--image-out", image)
    assert code == cli.EXIT_INPUT and "does not exist (create it first)" in err and "nodir" in err
    assert not list(tmp_path.glob("*.zkimg")) and not list(tmp_path.glob("x.png"))


def test_an_unwritable_or_occupied_output_is_refused_before_proving(captured, tmp_path, capsys, monkeypatch):
    _proving_forbidden(monkeypatch)
    (tmp_path / "folder.zkimg").mkdir()
    code, _, err = run(capsys, *captured, "-o", tmp_path / "folder.zkimg")
    assert code == cli.EXIT_INPUT and "is a folder" in err
    (tmp_path / "taken.png").write_bytes(b"mine")
    code, _, err = run(capsys, *captured, "-o", tmp_path / "b.zkimg", "--image-out", tmp_path / "taken.png")
    assert code == cli.EXIT_INPUT and "--force" in err and (tmp_path / "taken.png").read_bytes() == b"mine"
    code, _, err = run(capsys, *captured, "-o", tmp_path / "same.png", "--image-out", tmp_path / "same.png")
    assert code == cli.EXIT_INPUT and "different files" in err
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        code, _, err = run(capsys, *captured, "-o", locked / "b.zkimg")
        assert code == cli.EXIT_INPUT and "not writable" in err


def test_files_are_written_together_or_not_at_all(tmp_path, capsys, monkeypatch):
    real = os.fdopen
    calls = []

    def failing(fd, *a, **k):  # the second file's write fails (a full disk)
        calls.append(fd)
        if len(calls) == 2:
            os.close(fd)
            raise OSError(28, "No space left on device")
        return real(fd, *a, **k)

    monkeypatch.setattr(os, "fdopen", failing)
    code, _, err = run(capsys, "keygen", "-o", tmp_path / "camera.pem")  # writes the key, then its public key
    assert code == cli.EXIT_INPUT and "camera.pub.pem" in err and "No space left" in err
    assert ".tmp" not in err  # names the file the user asked for
    assert list(tmp_path.iterdir()) == []  # no key without its public key, no temporary file
    monkeypatch.setattr(os, "fdopen", real)
    assert cli.main(["keygen", "-q", "-o", str(tmp_path / "camera.pem")]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["camera.pem", "camera.pub.pem"]
    assert (tmp_path / "camera.pem").stat().st_mode & 0o777 == 0o600


def test_capture_and_keygen_write_nothing_over_an_existing_file(tmp_path, capsys):
    (tmp_path / "camera.pub.pem").write_text("someone else's")
    code, _, err = run(capsys, "keygen", "-o", tmp_path / "camera.pem")
    assert code == cli.EXIT_INPUT and "--force" in err and not (tmp_path / "camera.pem").exists()
    code, _, err = run(capsys, "keygen", "-o", tmp_path / "none" / "camera.pem")
    assert code == cli.EXIT_INPUT and "does not exist" in err
    cam = zkimg.Camera.generate()
    cam.save(tmp_path / "k.pem")
    write_image(tmp_path / "p.png", PHOTO)
    code, _, err = run(capsys, "capture", tmp_path / "p.png", "--key", tmp_path / "k.pem", "-o", tmp_path / "none" / "p")
    assert code == cli.EXIT_INPUT and "does not exist" in err


def test_a_failed_rename_rolls_back_the_files_already_in_place(tmp_path, capsys, monkeypatch):
    (tmp_path / "camera.pem").write_text("old key")
    (tmp_path / "camera.pub.pem").write_text("old public key")
    real = os.replace
    calls = []

    def failing(src, dst):  # the second rename fails (the target turned into a folder, say)
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(21, "Is a directory")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", failing)
    code, _, err = run(capsys, "keygen", "--force", "-o", tmp_path / "camera.pem")
    assert code == cli.EXIT_INPUT and "cannot write" in err and "camera.pub.pem" in err and ".tmp" not in err
    assert (tmp_path / "camera.pem").read_text() == "old key"  # restored, not left half-replaced
    assert (tmp_path / "camera.pub.pem").read_text() == "old public key"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["camera.pem", "camera.pub.pem"]  # no temporary files
