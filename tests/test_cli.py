"""The ``zkimg`` command, end to end with real proofs: keygen → capture → prove → verify/inspect."""

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import photo_tile
from PIL import Image

import zkimg
from zkimg import cli
from zkimg.images import read_image, write_image
from zkimg.transforms import all_examples, cli_options

PHOTO = photo_tile("chelsea", 50, 120, 17, 23)  # odd size, real photo
STEPS = ["--crop", "1,2,20,14", "--grayscale", "--contrast", "1.5"]
PIPE = zkimg.Pipeline([zkimg.Crop(1, 2, 20, 14), zkimg.Grayscale(), zkimg.Contrast(1.5)])


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def session(store, tmp_path_factory):
    """A camera, a capture and a C2PA-signed edit made through the CLI (real proofs)."""
    d = tmp_path_factory.mktemp("cli")
    cache = ["--cache", store.cache_dir]
    write_image(d / "photo.png", PHOTO)
    assert cli.main(["keygen", "-o", str(d / "camera.pem"), "--c2pa-dev-ca", str(d / "pki")]) == 0
    assert cli.main(["capture", str(d / "photo.png"), "--key", str(d / "camera.pem"), "--tile", "16"]) == 0
    code = cli.main(["prove", "--capture", str(d / "photo.capture.json"), "--secrets", str(d / "photo.secrets.npz"),
                     *STEPS, "-o", str(d / "edit.zkimg"), "--image-out", str(d / "edit.png"), "--jobs", "1",
                     "--c2pa-cert", str(d / "pki" / "signer-chain.pem"), "--c2pa-key", str(d / "pki" / "signer-key.pem"),
                     *map(str, cache)])
    assert code == 0
    return d, cache


def test_files_written(session):
    d, _ = session
    assert (d / "camera.pem").stat().st_mode & 0o777 == 0o600
    assert (d / "photo.secrets.npz").stat().st_mode & 0o777 == 0o600
    assert zkimg.PublicKey.from_pem((d / "camera.pub.pem").read_bytes()) == zkimg.Camera.load(d / "camera.pem").public_key
    assert np.array_equal(read_image(d / "edit.png"), PIPE.apply(PHOTO))  # pixels exactly the proved ones
    assert zkimg.Attestation.load(d / "edit.zkimg").pipeline == PIPE


def test_verify_with_bundle(session, capsys):
    d, cache = session
    code, out, _ = run(capsys, "verify", "--allow-dev-srs", d / "edit.png", "--bundle", d / "edit.zkimg", "--trust", d / "camera.pub.pem",
                       *cache)
    assert code == 0 and out.startswith("VERIFIED")
    assert "crop(left=1, top=2, width=20, height=14) → grayscale" in out and "23×17×3, hidden" in out
    assert "development SRS" in out


def test_verify_from_c2pa_manifest_alone(session, capsys):
    d, cache = session
    code, out, _ = run(capsys, "verify", "--allow-dev-srs", d / "edit.png", "--trust", d / "camera.pub.pem",
                       "--c2pa-trust", d / "pki" / "ca.pem", *cache)
    assert code == 0 and "VERIFIED" in out and "C2PA         manifest Trusted" in out


def test_changed_pixel_is_not_verified(session, capsys, tmp_path):
    d, cache = session
    img = read_image(d / "edit.png")
    img[3, 4, 0] ^= 1
    write_image(tmp_path / "fake.png", img)
    code, _, err = run(capsys, "verify", "--allow-dev-srs", tmp_path / "fake.png", "--bundle", d / "edit.zkimg",
                       "--trust", d / "camera.pub.pem", *cache)
    assert code == cli.EXIT_NOT_VERIFIED and "NOT VERIFIED: proof check failed" in err


def test_orientation_tag_added_to_published_file_is_not_verified(session, capsys, tmp_path):
    d, cache = session
    exif = Image.Exif()
    exif[0x0112] = 3  # viewers now show the published image upside down
    Image.open(d / "edit.png").save(tmp_path / "turned.png", exif=exif.tobytes())
    assert np.array_equal(read_image(tmp_path / "turned.png", orientation="ignore"), read_image(d / "edit.png"))
    code, _, err = run(capsys, "verify", "--allow-dev-srs", tmp_path / "turned.png", "--bundle", d / "edit.zkimg",
                       "--trust", d / "camera.pub.pem", *cache)
    assert code == cli.EXIT_NOT_VERIFIED and "NOT VERIFIED" in err


def test_development_srs_is_not_verified_without_the_opt_in(session, capsys):
    d, cache = session
    code, _, err = run(capsys, "verify", d / "edit.png", "--bundle", d / "edit.zkimg", "--trust",
                       d / "camera.pub.pem", *cache)
    assert code == cli.EXIT_NOT_VERIFIED and "srs_trust check failed" in err and "--allow-dev-srs" in err


def test_untrusted_camera_is_not_verified(session, capsys, tmp_path):
    d, cache = session
    assert cli.main(["keygen", "-q", "-o", str(tmp_path / "other.pem")]) == 0
    code, _, err = run(capsys, "verify", "--allow-dev-srs", d / "edit.png", "--bundle", d / "edit.zkimg",
                       "--trust", tmp_path / "other.pub.pem", *cache)
    assert code == 1 and "trusted_keys check failed" in err


def test_inspect(session, capsys):
    d, _ = session
    code, out, _ = run(capsys, "inspect", d / "edit.zkimg")
    assert code == 0 and "NOT verified" in out and "23×17×3 (hidden)" in out and "DEVELOPMENT" in out
    code, out, _ = run(capsys, "inspect", d / "edit.png", "--json")
    s = json.loads(out)
    assert code == 0 and s["output"] == {"height": 14, "width": 20, "channels": 1, "hidden": False}
    assert s["camera_key"]["id"] == zkimg.Camera.load(d / "camera.pem").public_key.key_id
    assert s["c2pa"]["validation_state"] in ("Valid", "Trusted") and s["tiles"]["proofs"] >= 1


def test_bad_inputs_have_exit_codes(session, capsys, tmp_path):
    d, cache = session
    (tmp_path / "junk.zkimg").write_bytes(b"{not json")
    assert run(capsys, "verify", "--allow-dev-srs", d / "edit.png", "--bundle", tmp_path / "junk.zkimg",
               "--trust", d / "camera.pub.pem")[0] == cli.EXIT_INPUT
    assert run(capsys, "inspect", tmp_path / "junk.zkimg")[0] == cli.EXIT_INPUT
    write_image(tmp_path / "plain.png", PHOTO)  # no manifest, no bundle
    code, _, err = run(capsys, "verify", "--allow-dev-srs", tmp_path / "plain.png", "--trust", d / "camera.pub.pem")
    assert code == cli.EXIT_INPUT and "no C2PA manifest" in err
    prove = ["prove", "--capture", d / "photo.capture.json", "--secrets", d / "photo.secrets.npz", *cache]
    code, _, err = run(capsys, *prove, *STEPS, "-o", tmp_path / "x.zkimg", "--image-out", tmp_path / "x.jpg")
    assert code == cli.EXIT_INPUT and "lossy" in err and not (tmp_path / "x.zkimg").exists()  # refused before proving
    code, _, err = run(capsys, *prove, *STEPS, "-o", tmp_path / "g.zkimg", "--image-out", tmp_path / "g.webp")
    assert code == cli.EXIT_INPUT and "WebP" in err and not (tmp_path / "g.zkimg").exists()  # grey output
    code, _, err = run(capsys, *prove, *STEPS, "-o", d / "edit.zkimg")
    assert code == cli.EXIT_INPUT and "--force" in err  # never overwrites silently
    with pytest.raises(SystemExit) as e:
        cli.main([*map(str, prove), "-o", str(tmp_path / "y.zkimg")])  # no edit given
    assert e.value.code == cli.EXIT_USAGE
    with pytest.raises(SystemExit) as e:
        cli.main([*map(str, prove), "--crop", "1,2,3", "-o", str(tmp_path / "y.zkimg")])
    assert e.value.code == cli.EXIT_USAGE
    for bad in (["--segments", "1,x"], ["--jobs", "0"], ["--srs-digest", "14=abc"]):
        with pytest.raises(SystemExit) as e:
            cli.main([*map(str, prove), *STEPS, *bad, "-o", str(tmp_path / "z.zkimg")])
        assert e.value.code == cli.EXIT_USAGE
    other = tmp_path / "other.secrets.npz"
    zkimg.Camera.generate().capture(PHOTO, tile=16).secrets.save(other)  # same pixels, other salts
    code, _, err = run(capsys, "prove", "--capture", d / "photo.capture.json", "--secrets", other, *STEPS,
                       "-o", tmp_path / "w.zkimg", *cache)
    assert code == cli.EXIT_INPUT and "not the ones" in err
    code, _, err = run(capsys, "capture", tmp_path / "missing.png", "--key", d / "camera.pem")
    assert code == cli.EXIT_INPUT and "no such image" in err


def _parse_pipeline(*argv):
    a = cli.build_parser().parse_args(["prove", "--capture", "c", "--secrets", "s", "-o", "o", *argv])
    return cli.pipeline_from_args(a, a.parser)


def test_inline_steps_keep_their_order():
    assert _parse_pipeline(*STEPS) == PIPE
    got = _parse_pipeline("--resize", "32x24:nearest", "--blur", "gaussian:5:1.5", "--blur", "box", "--flip",
                          "vertical", "--rotate90", "3", "--white-balance", "1.1,1,0.9", "--brightness", "0.8",
                          "--grayscale", "3")
    assert got == zkimg.Pipeline([zkimg.Resize(32, 24, "nearest"), zkimg.GaussianBlur(5, 1.5), zkimg.BoxBlur(3),
                                  zkimg.Flip("vertical"), zkimg.Rotate90(3), zkimg.WhiteBalance((1.1, 1, 0.9)),
                                  zkimg.Brightness(0.8), zkimg.Grayscale(3)])


@pytest.mark.parametrize("t", all_examples(), ids=lambda t: t.describe())
def test_every_registered_transform_has_a_cli_form_and_a_c2pa_action(t):
    option, value = t.cli_args()
    assert option in cli_options() and _parse_pipeline(option, value) == zkimg.Pipeline([t])
    assert option in _prove_help()
    assert t.c2pa_action.startswith("c2pa.")


def _prove_help():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["prove"].format_help()


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_pipeline_files(tmp_path, suffix):
    steps = [{"crop": {"left": 1, "top": 2, "width": 20, "height": 14}}, "grayscale", {"op": "contrast", "factor": 1.5}]
    text = json.dumps({"steps": steps})  # JSON is YAML too
    (tmp_path / f"p{suffix}").write_text(text)
    assert _parse_pipeline("--pipeline", str(tmp_path / f"p{suffix}")) == PIPE
    (tmp_path / f"bad{suffix}").write_text(json.dumps([{"crop": {"left": 1}}]))
    with pytest.raises(zkimg.InvalidPipelineFile, match="step 1"):
        _parse_pipeline("--pipeline", str(tmp_path / f"bad{suffix}"))


def test_progress_is_bars_on_a_terminal_and_lines_elsewhere(monkeypatch, capsys):
    # Not a terminal (a log, CI): a line when a stage starts, at most every EVERY seconds, one at the end.
    clock = [0.0]
    monkeypatch.setattr(cli.time, "monotonic", lambda: clock[0])
    bars = cli.Bars(quiet=False)  # pytest's stderr is not a TTY
    bars("prove", 0, 3)
    clock[0] = 10.0
    bars("prove", 1, 3)  # too soon after the stage's first line: silent
    clock[0] = 31.0
    bars("prove", 2, 3)
    bars("prove", 3, 3)
    bars("prove", 3, 3)  # said once
    assert capsys.readouterr().err.splitlines() == ["prove tiles: 0/3 (0:00)", "prove tiles: 2/3 (0:31)",
                                                    "prove tiles: 3/3 (0:31)"]
    quiet = cli.Bars(quiet=True)
    quiet("prove", 3, 3)
    quiet("resume", 2, 3)  # counted even when quiet: the summary says it
    assert capsys.readouterr().err == "" and (quiet.reused, quiet.resumable) == (2, 3)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    bars = cli.Bars(quiet=False)
    for i in range(3):
        bars("verify", i, 2)
    bars.close()
    err = capsys.readouterr().err
    assert "verify tiles" in err and "2/2" in err


def test_console_script_is_installed():
    beside = Path(sys.executable).parent / "zkimg"  # the venv's bin, activated or not
    exe = str(beside) if beside.exists() else shutil.which("zkimg") or pytest.fail("no zkimg console script")
    r = subprocess.run([exe, "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "keygen" in r.stdout and "exit codes" in r.stdout
    for cmd in ("keygen", "capture", "prove", "verify", "inspect", "demo"):
        r = subprocess.run([sys.executable, "-m", "zkimg.cli", cmd, "--help"], capture_output=True, text=True)
        assert r.returncode == 0 and "usage: zkimg " + cmd in r.stdout


def test_colour_profile_added_to_published_file_is_not_verified(session, capsys, tmp_path):
    from PIL import PngImagePlugin

    d, cache = session
    info = PngImagePlugin.PngInfo()
    info.add(b"gAMA", (20000).to_bytes(4, "big"))  # viewers now show the published image darker
    Image.open(d / "edit.png").save(tmp_path / "dark.png", pnginfo=info)
    assert np.array_equal(read_image(tmp_path / "dark.png"), read_image(d / "edit.png"))
    code, _, err = run(capsys, "verify", "--allow-dev-srs", tmp_path / "dark.png", "--bundle", d / "edit.zkimg",
                       "--trust", d / "camera.pub.pem", *cache)
    assert code == cli.EXIT_INPUT and "colour-management" in err


def test_key_errors_name_the_file_and_what_to_do(tmp_path, capsys):
    write_image(tmp_path / "p.png", PHOTO)
    capture = ["capture", tmp_path / "p.png", "-o", tmp_path / "p", "--key"]
    code, _, err = run(capsys, *capture, tmp_path / "missing.pem")
    assert code == cli.EXIT_INPUT and "missing.pem" in err and "zkimg keygen -o" in err and "Errno" not in err
    (tmp_path / "empty.pem").write_bytes(b"")
    code, _, err = run(capsys, *capture, tmp_path / "empty.pem")
    assert code == cli.EXIT_INPUT and "empty.pem" in err and "empty" in err
    (tmp_path / "junk.pem").write_bytes(b"-----BEGIN NONSENSE-----\nxx\n")
    code, _, err = run(capsys, *capture, tmp_path / "junk.pem")
    assert code == cli.EXIT_INPUT and "junk.pem" in err and "not an Ed25519 or P-256 key" in err
    assert "format is not supported" not in err
    assert cli.main(["keygen", "-q", "-o", str(tmp_path / "cam.pem"), "--passphrase-env", "ZK_TEST_PASS"]) \
        == cli.EXIT_INPUT  # the variable is unset
    cam = zkimg.Camera.generate()
    cam.save(tmp_path / "cam.pem", passphrase="pw")
    (tmp_path / "cam.pub.pem").write_text(cam.public_key.pem())
    code, _, err = run(capsys, *capture, tmp_path / "cam.pem")
    assert code == cli.EXIT_INPUT and "passphrase" in err and "--passphrase-env" in err
    code, _, err = run(capsys, *capture, tmp_path / "cam.pub.pem")
    assert code == cli.EXIT_INPUT and "public key" in err and "private key" in err
    cam2 = zkimg.Camera.generate()
    cam2.save(tmp_path / "plain.pem")
    code, _, err = run(capsys, "verify", "--bundle", tmp_path / "missing.zkimg", "--trust", tmp_path / "plain.pem")
    assert code == cli.EXIT_INPUT and "plain.pem holds a private key" in err and ".pub.pem" in err  # keys first


def test_private_key_given_as_trust_is_refused(tmp_path):
    cam = zkimg.Camera.generate()
    cam.save(tmp_path / "cam.pem")
    with pytest.raises(zkimg.InvalidKey, match=r"cam\.pem holds a private key.*\.pub\.pem"):
        zkimg.PublicKey.load(tmp_path / "cam.pem")


def test_messages_use_cli_syntax(tmp_path, capsys):
    rgba = np.dstack([PHOTO, np.full(PHOTO.shape[:2], 128, np.uint8)])  # half transparent
    write_image(tmp_path / "a.png", rgba)
    zkimg.Camera.generate().save(tmp_path / "k.pem")
    code, _, err = run(capsys, "capture", tmp_path / "a.png", "--key", tmp_path / "k.pem")
    assert code == cli.EXIT_INPUT and "--alpha keep" in err and "--alpha drop" in err and "alpha='keep'" not in err
    assert cli.cli_message("pass alpha='keep' or hide_output=True or shape='x'", cli.build_parser()) == \
        "pass alpha='keep' or hide_output=True or shape='x'"  # the top-level parser has none of these options


def test_a_negative_step_value_is_read_as_a_value(capsys):
    with pytest.raises(SystemExit) as e:
        _parse_pipeline("--crop", "-1,0,10,10")
    err = capsys.readouterr().err
    assert e.value.code == cli.EXIT_USAGE and "--crop -1,0,10,10" in err and "expected one argument" not in err
    assert cli._attach_negative_values(["prove", "--crop", "-1,0,10,10", "--brightness", "-0.5", "-q"]) == \
        ["prove", "--crop=-1,0,10,10", "--brightness=-0.5", "-q"]


def test_help_lists_only_options_that_do_something():
    helps = {cmd: cli.build_parser()._subparsers._group_actions[0].choices[cmd].format_help()
             for cmd in ("keygen", "capture", "prove", "verify", "cache")}
    assert "--srs" not in helps["keygen"] and "--cache" not in helps["keygen"]
    for cmd in ("capture", "prove", "verify"):  # a KZG capture commits under the --srs files
        assert "--srs" in helps[cmd] and "--cache" in helps[cmd]
    assert "--dry-run" in helps["prove"] and "ZKIMG_CACHE_MAX" in helps["cache"]


def test_an_interrupted_prove_says_how_to_resume(tmp_path, capsys, monkeypatch):
    write_image(tmp_path / "p.png", PHOTO)
    zkimg.Camera.generate().save(tmp_path / "k.pem")
    assert cli.main(["capture", "-q", str(tmp_path / "p.png"), "--key", str(tmp_path / "k.pem"), "--tile", "8"]) == 0

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr("zkimg.attest.prove", interrupted)
    prove = ["prove", "-q", "--capture", tmp_path / "p.capture.json", "--secrets", tmp_path / "p.secrets.npz",
             "--grayscale", "-o", tmp_path / "b.zkimg"]
    code, _, err = run(capsys, *prove)
    assert code == cli.EXIT_INTERRUPTED and "pass --workdir DIR" in err
    code, _, err = run(capsys, *prove, "--workdir", tmp_path / "w")
    assert code == cli.EXIT_INTERRUPTED and "kept in" in err and "run the same command again" in err
    assert not (tmp_path / "b.zkimg").exists()


def test_a_workdir_of_another_edit_says_what_to_do(tmp_path, capsys):
    write_image(tmp_path / "p.png", PHOTO)
    zkimg.Camera.generate().save(tmp_path / "k.pem")
    assert cli.main(["capture", "-q", str(tmp_path / "p.png"), "--key", str(tmp_path / "k.pem"), "--tile", "8"]) == 0
    (tmp_path / "w" / "segment-0").mkdir(parents=True)
    (tmp_path / "w" / "segment-0" / "plan.sha256").write_text("another plan")
    code, _, err = run(capsys, "prove", "-q", "--capture", tmp_path / "p.capture.json", "--secrets",
                       tmp_path / "p.secrets.npz", "--grayscale", "-o", tmp_path / "b.zkimg", "--workdir", tmp_path / "w")
    assert code == cli.EXIT_INPUT and "another edit or capture" in err and "delete this one" in err


@pytest.mark.slow
@pytest.mark.parametrize("jobs", [[], ["--jobs", "2"]], ids=["default-pool", "jobs-pool"])
def test_ctrl_c_stops_the_workers_at_once(tmp_path, session_cache, jobs):
    """Ctrl-C (SIGINT to the process group, as a terminal sends it) while workers are inside
    ezkl's prover: the command ends in seconds, not when the running proofs would finish."""
    import os
    import signal
    import time

    big = np.tile(PHOTO, (5, 3, 1))[:96, :96]  # 96×96: four 48 px tiles, no borders, one circuit
    write_image(tmp_path / "p.png", big)
    zkimg.Camera.generate().save(tmp_path / "k.pem")
    assert cli.main(["capture", "-q", str(tmp_path / "p.png"), "--key", str(tmp_path / "k.pem"), "--tile", "48",
                     "--border", "0"]) == 0
    exe = Path(sys.executable).parent / "zkimg"
    proc = subprocess.Popen([str(exe), "prove", "--capture", str(tmp_path / "p.capture.json"), "--secrets",
                             str(tmp_path / "p.secrets.npz"), "--contrast", "1.5", *jobs, "-o",
                             str(tmp_path / "b.zkimg")], stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env={**os.environ, "ZKIMG_CACHE": session_cache},
                            # as from a terminal: a test run started in the background of a
                            # non-interactive shell has SIGINT ignored, and Python keeps it so
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = []
    for line in proc.stderr:  # setup runs first, in this process; then the workers start proving
        lines.append(line)
        if line.startswith("prove tiles: 0/4"):
            break
    else:
        pytest.fail("".join(lines))
    time.sleep(2.0)  # both workers are inside a proof now (each takes several seconds)
    t0 = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    rest = proc.stderr.read()
    code = proc.wait(timeout=120)
    waited = time.monotonic() - t0
    assert code == cli.EXIT_INTERRUPTED and "pass --workdir DIR" in rest, "".join(lines) + rest
    assert waited < 4.0, f"took {waited:.1f} s to stop"
    assert not (tmp_path / "b.zkimg").exists()


def test_demo_never_writes_over_the_users_files(tmp_path, capsys):
    (tmp_path / "camera.pem").write_text("my real key")
    code, _, err = run(capsys, "demo", "--out", tmp_path)
    assert code == cli.EXIT_INPUT and "camera.pem exists" in err
    assert (tmp_path / "camera.pem").read_text() == "my real key" and len(list(tmp_path.iterdir())) == 1
