"""The ``zkimg`` command: keygen, capture, prove, verify, inspect, demo.

Exit codes: 0 success; 1 verification failed (the check is named); 2 bad command line;
3 unreadable or malformed input (image, key, bundle, pipeline, manifest) or input over
the verifier's limits; 4 proving or circuit failure; 5 internal error (a zkimg bug: please
report it); 130 interrupted. Only a failed verification check exits 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import __version__, demo
from ._fileio import check_output, read_bounded, write_files
from ._pool import process_pool, stop
from ._validate import check_hex64
from .bundle import Attestation
from .camera import Camera, Capture, CaptureSecrets, PublicKey, SignedCapture
from .errors import (
    CircuitError,
    Error,
    InvalidKey,
    InvalidParameter,
    MalformedInput,
    ManifestError,
    ProvingError,
    VerificationError,
)
from .hazmat.circuits import SRS, CircuitStore, DevelopmentSRSWarning
from .limits import MAX_PEM_BYTES
from .pipeline import Pipeline, load_pipeline
from .policy import TrustedCameras
from .transforms import cli_options

EXIT_OK, EXIT_NOT_VERIFIED, EXIT_USAGE, EXIT_INPUT, EXIT_PROVING, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 5, 130
DEV_SRS_NOTE = ("development SRS: generated on this machine, so whoever made it could forge proofs; "
                "use --srs with a ceremony SRS for real use")
UNPINNED_SRS_NOTE = ("unpinned SRS: the --srs files are neither the public ceremony's (by SHA-256) nor pinned "
                     "with --srs-digest, so whoever made them could forge proofs")
log = logging.getLogger("zkimg.cli")

if TYPE_CHECKING:
    from .manifest import ManifestReading


# --------------------------------------------------------------------------- inline pipelines

class _Step(argparse.Action):
    def __call__(self, parser: argparse.ArgumentParser, ns: argparse.Namespace, value: Any,
                 option: Optional[str] = None) -> None:
        make = cli_options()[self.option_strings[0]].from_cli
        try:
            step = make(value)
        except (ValueError, TypeError) as e:
            parser.error(f"{option} {value}: {e}")
        ns.steps = [*(getattr(ns, "steps", None) or []), step]


def pipeline_from_args(a: argparse.Namespace, parser: argparse.ArgumentParser) -> Pipeline:
    """The pipeline ``prove``'s arguments name: ``--pipeline FILE`` or the step options in order."""
    steps = getattr(a, "steps", None) or []
    if a.pipeline and steps:
        parser.error("give the pipeline either as --pipeline FILE or as step options, not both")
    if a.pipeline:
        return load_pipeline(a.pipeline)
    if not steps:
        parser.error("no edit given: use --pipeline FILE or step options such as --crop/--resize")
    return Pipeline(steps)


# --------------------------------------------------------------------------- progress

class Bars:
    """Progress on stderr, one bar per stage on a terminal; elsewhere (a log file, CI) a plain
    line per stage at most every :attr:`EVERY` seconds and when it finishes. Silent when quiet."""

    LABELS = {"commit": "commit cells", "setup": "setup circuits", "prove": "prove tiles", "verify": "verify tiles"}
    EVERY = 30.0

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self._bars: Dict[str, Any] = {}
        self._said: Dict[str, float] = {}
        self._start = time.monotonic()
        #: ("resume" reports) tile proofs reused from a work folder, and the jobs they were among
        self.reused, self.resumable = 0, 0

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage == "resume":
            self.reused, self.resumable = self.reused + done, self.resumable + total
            return
        if self.quiet:
            return
        if not self.tty:  # a line when a stage starts, then at most every EVERY seconds, then when it ends
            now, last = time.monotonic(), self._said.get(stage)
            if last != -1.0 and (last is None or done >= total or now - last >= self.EVERY):
                print(f"{self.LABELS.get(stage, stage)}: {done:,}/{total:,} ({_clock(now - self._start)})",
                      file=sys.stderr, flush=True)
                self._said[stage] = -1.0 if done >= total else now
            return
        from tqdm import tqdm

        bar = self._bars.get(stage)
        if bar is None:
            bar = self._bars[stage] = tqdm(total=total, desc=self.LABELS.get(stage, stage), unit="tile" if
                                           stage != "commit" else "cell", file=sys.stderr, leave=True)
        bar.total = total
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m}:{s:02d}"


# --------------------------------------------------------------------------- commands

def _out(a: argparse.Namespace, *lines: str) -> None:
    if not a.quiet:
        for line in lines:
            print(line)


def _no_clobber(a: argparse.Namespace, option: str, *paths: Path) -> None:
    for p in paths:
        check_output(p, option, force=a.force)


def _store(a: argparse.Namespace) -> CircuitStore:
    if a.srs_digest and not a.srs:
        raise InvalidParameter("srs-digest", "pins the files of --srs: give --srs too")
    srs = SRS.from_directory(a.srs, dict(a.srs_digest or [])) if a.srs else None
    return CircuitStore(a.cache, srs)


def _passphrase(a: argparse.Namespace) -> Optional[str]:
    if not a.passphrase_env:
        return None
    value = os.environ.get(a.passphrase_env)
    if value is None:
        raise InvalidParameter("passphrase-env", f"environment variable {a.passphrase_env} is not set")
    return value


def cmd_keygen(a: argparse.Namespace) -> int:
    key, pub = Path(a.out), Path(a.out).with_suffix(".pub.pem")
    _no_clobber(a, "--out", key, pub)
    if a.c2pa_dev_ca:
        Path(a.c2pa_dev_ca).mkdir(parents=True, exist_ok=True)
        _no_clobber(a, "--c2pa-dev-ca", *(Path(a.c2pa_dev_ca) / n for n in ("ca.pem", "signer-chain.pem",
                                                                                "signer-key.pem")))
    cam = Camera.generate(a.curve)
    write_files([(key, cam.private_pem(_passphrase(a)), True), (pub, cam.public_key.pem().encode(), False)])
    _out(a, f"camera key   {key} (private, mode 0600)", f"public key   {pub} (give this to verifiers)",
         f"key id       {cam.public_key.key_id}")
    if a.c2pa_dev_ca:
        from .manifest import development_signer

        _, ca = development_signer(a.c2pa_dev_ca)
        _out(a, f"C2PA         {a.c2pa_dev_ca}/signer-chain.pem + signer-key.pem, trust anchor {ca} "
                "(development only)")
    return EXIT_OK


def _camera(a: argparse.Namespace) -> Camera:
    """The camera key of ``--key``; a refusal says what to do about it."""
    try:
        return Camera.load(a.key, _passphrase(a))
    except InvalidKey as e:
        if not Path(a.key).exists():
            fix = f"make a camera key with `zkimg keygen -o {a.key}`"
        elif "passphrase" in str(e):
            fix = "give the passphrase with --passphrase-env VAR"
        else:
            fix = "give the private key file `zkimg keygen` wrote (its public key is the .pub.pem beside it)"
        raise InvalidKey(f"{e}; {fix}") from e


def cmd_capture(a: argparse.Namespace) -> int:
    from .images import read_image

    stem = Path(a.out) if a.out else Path(a.image).with_suffix("")
    record, secrets = Path(f"{stem}.capture.json"), Path(f"{stem}.secrets.npz")
    _no_clobber(a, "--out", record, secrets)
    cam = _camera(a)
    pixels = read_image(a.image, alpha=a.alpha, orientation=a.orientation)
    bars = Bars(a.quiet)
    extra: Dict[str, Any] = {}
    notes: List[str] = []
    if a.scheme == "kzg":  # the columns are committed under the SRS the prover and verifier will use
        store = _store(a)
        extra = {"logrows": a.logrows, "store": store}
        if store.srs.development:
            notes.append(f"WARNING      {DEV_SRS_NOTE}")
    elif a.logrows is not None:
        raise InvalidParameter("logrows", "only --scheme kzg has a column height")
    shot = cam.capture(pixels, a.tile, a.border, scheme=a.scheme, progress=bars, **extra)
    bars.close()
    write_files([(secrets, shot.secrets.dumps(), True), (record, shot.signed.dumps(), False)])
    lay = shot.signed.layout
    scheme = lay.scheme.name + (f", columns of 2^{dict(lay.scheme_params)['logrows']} rows" if lay.scheme_params else "")
    _out(a, f"captured     {lay.width}×{lay.height}×{lay.channels}, {lay.cell_count} cells of tile {lay.tile} "
            f"({scheme})",
         f"public       {record} (capture record: commitments, root, signature)",
         f"secret       {secrets} (pixels and salts, mode 0600: keep it private)", *notes)
    return EXIT_OK


def _executor(a: argparse.Namespace) -> Any:
    if a.dask:
        try:
            from distributed import Client
        except ImportError as e:
            raise InvalidParameter("dask", "needs dask.distributed: pip install 'zkimg[dask]'") from e
        return Client(a.dask).get_executor()  # type: ignore[no-untyped-call]
    if a.jobs:
        return process_pool(a.jobs)
    return None


def _outputs(a: argparse.Namespace, pipe: Pipeline, capture: SignedCapture) -> "List[Tuple[str, Path]]":
    """Every file ``prove`` will write, as (option, path), each checked writable before any work:
    a missing folder, an existing file without --force or an image format that cannot hold the
    output is refused here, not after hours of proving."""
    from .images import check_writable

    out = Path(a.out)
    files = [("--out", out)]
    if a.image_out:
        image_out = Path(a.image_out)
        lay = capture.layout
        check_writable(image_out, pipe.output_shape((lay.height, lay.width, lay.channels)))
        files.append(("--image-out", image_out))
        if a.c2pa_cert:
            from .manifest import sidecar_path

            files.append(("--image-out", sidecar_path(image_out)))  # written if the bundle outgrows the manifest
    if a.hide_output:
        files.append(("--out", Path(f"{out}.output-salts")))
    if len({f.resolve() for _, f in files}) < len(files):
        raise InvalidParameter("--image-out", "the bundle and the image must be different files")
    for option, f in files:
        check_output(f, option, force=a.force)
    return files


def cmd_prove(a: argparse.Namespace) -> int:
    from .attest import prove
    from .costs import duration, estimate
    from .images import encode_image, read_image

    parser = a.parser
    pipe = pipeline_from_args(a, parser)
    if a.image_out and a.hide_output:
        parser.error("--image-out publishes the output, --hide-output hides it: pick one")
    if a.c2pa_cert and not a.image_out:
        parser.error("--c2pa-cert signs the published image: give --image-out too")
    signed = SignedCapture.load(a.capture)
    if a.dry_run:
        _out(a, f"plan         {' → '.join(t.describe() for t in pipe)}",
             *estimate(signed, pipe, store=_store(a), hide_output=a.hide_output, segments=a.segments,
                       tiles_per_job=a.tiles_per_job, workers=a.jobs, workdir=a.workdir).lines(),
             "(dry run: no key made, nothing proved, no output written; the compiled circuits stay cached)")
        return EXIT_OK
    missing = [o for o, v in (("--secrets", a.secrets), ("--out", a.out)) if not v]
    if missing:
        parser.error(f"the following arguments are required: {', '.join(missing)} (only --dry-run does without them)")
    outputs = _outputs(a, pipe, signed)
    capture = Capture(signed, CaptureSecrets.load(a.secrets))
    signer = None
    if a.c2pa_cert:
        from .manifest import ManifestSigner

        signer = ManifestSigner.from_files(a.c2pa_cert, a.c2pa_key or a.c2pa_cert, a.c2pa_alg)
    store, bars = _store(a), Bars(a.quiet)
    if not a.quiet:
        guess = estimate(signed, pipe, store=store, hide_output=a.hide_output, segments=a.segments,
                         tiles_per_job=a.tiles_per_job, workers=None if a.dask else a.jobs, workdir=a.workdir)
        print("\n".join(guess.lines()), file=sys.stderr)
        if guess.long:
            print(f"WARNING      this will take about {duration(guess.total_s)}"
                  + ("" if a.workdir else "; pass --workdir DIR so that an interrupted run can resume"),
                  file=sys.stderr)
    executor = _executor(a)
    try:
        att = prove(capture, pipe, store=store, executor=executor, progress=bars, workdir=a.workdir,
                    hide_output=a.hide_output, segments=a.segments, tiles_per_job=a.tiles_per_job)
    except BaseException:
        if executor is not None and not a.dask:  # our --jobs pool: end its workers now
            stop(executor)
        raise
    finally:
        bars.close()
        if executor is not None and hasattr(executor, "shutdown"):
            executor.shutdown()
    out = outputs[0][1]
    bundle = att.dumps(compress=True)
    files: List[Tuple[Path, bytes, bool]] = [(out, bundle, False)]
    lines = [f"proved       {' → '.join(t.describe() for t in pipe)}"]
    if bars.reused:
        lines.append(f"resumed      {bars.reused:,} of {bars.resumable:,} tile proofs reused from {a.workdir}")
    lines.append(f"bundle       {out} ({len(bundle):,} bytes, {len(att.proofs)} tile proofs)")
    if a.image_out:
        image_out = Path(a.image_out)
        data = encode_image(pipe.apply(capture.secrets.pixels), image_out.suffix)
        if signer is not None:
            from .images import media_type
            from .manifest import sign_image

            signed_image = sign_image(data, media_type(image_out), att, signer, name=image_out.name)
            if not np.array_equal(read_image(signed_image.image, alpha="keep", orientation="ignore"),
                                  read_image(data, alpha="keep", orientation="ignore")):
                raise ManifestError(f"the C2PA-signed {image_out} would not hold the proved pixels")
            files += signed_image.files(image_out)
            where = f"sidecar {signed_image.sidecar_name}" if signed_image.sidecar else "embedded"
            lines.append(f"image        {image_out} (C2PA manifest with the bundle {where})")
        else:
            files.append((image_out, data, False))
            lines.append(f"image        {image_out}")
    if att.output_salts is not None:
        salts = Path(f"{out}.output-salts")
        files.append((salts, b"".join(att.output_salts), True))
        lines.append(f"secret       {salts} (salts of the hidden output's commitments, mode 0600)")
    write_files(files)  # all of them or none
    if att.development_srs:
        lines.append(f"WARNING      {DEV_SRS_NOTE}")
    _out(a, *lines)
    return EXIT_OK


def _load_attestation(a: argparse.Namespace, image: Optional[Path]) -> "Tuple[Attestation, Optional[ManifestReading]]":
    """(attestation, C2PA reading or None) from --bundle, or from the image's manifest."""
    if a.bundle:
        return Attestation.load(a.bundle), None
    if image is None:
        raise InvalidParameter("bundle", "give a bundle file (--bundle) or an image with a C2PA manifest")
    from .manifest import read

    anchors = b"".join(read_bounded(p, MAX_PEM_BYTES, "C2PA trust anchor", ManifestError)
                       for p in a.c2pa_trust) if a.c2pa_trust else None
    reading = read(image, trust_anchors=anchors)
    return reading.attestation, reading


def cmd_verify(a: argparse.Namespace) -> int:
    from .images import read_image
    from .verification import verify

    image = Path(a.image) if a.image else None
    policy = TrustedCameras([PublicKey.load(p) for p in a.trust], allow_development_srs=a.allow_dev_srs,
                            allow_unpinned_srs=a.allow_unpinned_srs)  # the verifier's own files first
    att, reading = _load_attestation(a, image)
    # what viewers show: an orientation tag or colour profile would change what the published file depicts
    published = read_image(image, alpha="keep", orientation="apply", colour="refuse") if image is not None else None
    if image is not None and att.hidden_output:
        raise InvalidParameter("image", "this attestation hides its output: verify it without an image")
    store = _store(a)
    bars = Bars(a.quiet)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DevelopmentSRSWarning)  # reported below, once
            res = verify(att, published, policy, store=store, progress=bars)
    except VerificationError as e:
        bars.close()
        from .images import LOSSLESS

        note = ""
        if image is not None and image.suffix.lower() not in LOSSLESS:
            note = (f"\n({image.name} is in a lossy format: its pixels are not the exact ones an edit produced, "
                    "so it cannot verify; verify the lossless image that was published with the bundle)")
        print(f"NOT VERIFIED: {e.check} check failed: {e}{note}", file=sys.stderr)
        return EXIT_NOT_VERIFIED
    bars.close()
    ih, iw, ic = res.input_size
    oh, ow, oc = res.output_size
    lines = ["VERIFIED",
             f"edit         {' → '.join(t.describe() for t in res.pipeline)}",
             f"original     {iw}×{ih}×{ic}, hidden; signed by camera key {res.camera_key_id}",
             f"output       {ow}×{oh}×{oc}, " + ("hidden (committed)" if res.hidden_output else f"{image}"),
             f"tiles        {res.tiles} proofs checked"]
    if reading is not None:
        lines.append(("WARNING      C2PA " if reading.validation_state == "Invalid" else "C2PA         ")
                     + f"manifest {reading.validation_state}"
                     + (f" ({', '.join(reading.failures)})" if reading.failures else "")
                     + (f", signed by {reading.signer}" if reading.signer else ""))
    if res.srs_trust in ("development", "unpinned"):
        lines.append(f"WARNING      {DEV_SRS_NOTE if res.development_srs else UNPINNED_SRS_NOTE}")
    else:
        lines.append(f"SRS          {res.srs_trust} (SHA-256 checked)")
    _out(a, *lines)
    return EXIT_OK


def summary(att: Attestation, size: Optional[int] = None) -> Dict[str, Any]:
    """A JSON-able summary of a bundle (nothing is verified)."""
    cap, lay = att.capture, att.capture.layout
    return {
        "pipeline": [t.describe() for t in att.pipeline],
        "pipeline_digest": att.pipeline.digest,
        "input": {"width": lay.width, "height": lay.height, "channels": lay.channels},
        "output": {"height": att.output_shape[0], "width": att.output_shape[1], "channels": att.output_shape[2],
                   "hidden": att.hidden_output},
        "camera_key": {"id": cap.camera_key.key_id, "curve": cap.camera_key.curve},
        "commitments": {"scheme": lay.scheme.name, **dict(lay.scheme_params)},
        "tiles": {"tile": lay.tile, "border": lay.border, "cells": lay.cell_count, "proofs": len(att.proofs),
                  "tiles_per_job": att.tiles_per_job, "segments": [s.steps for s in att.segments]},
        "srs": {"development": att.development_srs, "digests": {str(k): v for k, v in att.srs_digests.items()}},
        "bundle_bytes": size,
    }


def cmd_inspect(a: argparse.Namespace) -> int:
    from .images import LOSSLESS

    path = Path(a.file)
    reading = None
    if path.suffix.lower() in LOSSLESS:  # an image: the bundle is in its C2PA manifest
        from .manifest import read

        reading = read(path)
        att, size = reading.attestation, len(reading.attestation.dumps(compress=True))
    else:
        att, size = Attestation.load(path), path.stat().st_size
    s = summary(att, size)
    if reading is not None:
        s["c2pa"] = {"validation_state": reading.validation_state, "signer": reading.signer,
                     "sidecar": str(reading.sidecar) if reading.sidecar else None}
    if a.json:
        print(json.dumps(s, indent=2))
        return EXIT_OK
    i, o, t = s["input"], s["output"], s["tiles"]
    lines = [f"zkimg attestation ({size:,} bytes; NOT verified — run `zkimg verify`)",
             f"edit         {' → '.join(s['pipeline'])}",
             f"pipeline     sha256 {s['pipeline_digest']}",
             f"original     {i['width']}×{i['height']}×{i['channels']} (hidden)",
             f"output       {o['width']}×{o['height']}×{o['channels']} ({'hidden' if o['hidden'] else 'public'})",
             f"camera key   {s['camera_key']['id']} ({s['camera_key']['curve']})",
             f"commitments  {s['commitments']['scheme']}"
             + (f" (columns of 2^{s['commitments']['logrows']} rows, SRS {s['commitments']['srs_sha256'][:16]}…)"
                if "logrows" in s["commitments"] else ""),
             f"tiles        tile {t['tile']} px, border {t['border']}, {t['cells']} cells, {t['proofs']} proofs"
             + (f" ({t['tiles_per_job']} tiles each)" if t["tiles_per_job"] > 1 else "")
             + (f", segments {t['segments']}" if len(t["segments"]) > 1 else ""),
             "SRS          " + ("DEVELOPMENT (not trustworthy)" if s["srs"]["development"] else "ceremony")
             + ", logrows " + ", ".join(sorted(s["srs"]["digests"], key=int))]
    if reading is not None:
        lines.append(f"C2PA         {reading.validation_state}, signed by {reading.signer or '?'}"
                     + (f", bundle in sidecar {reading.sidecar.name}" if reading.sidecar else ", bundle embedded"))
    print("\n".join(lines))
    return EXIT_OK


def cmd_cache(a: argparse.Namespace) -> int:
    from .hazmat.circuits import default_cache_max, parse_size

    store = CircuitStore(a.cache, max_bytes=None)
    if a.action == "clear":
        freed = store.clear()
        print(f"cleared      {store.cache_dir} ({_megabytes(freed)} freed)")
        return EXIT_OK
    if a.action == "prune":
        bound = parse_size(a.max_size, "--max-size") if a.max_size else default_cache_max()
        if bound is None:
            raise InvalidParameter("--max-size", "give the bound, e.g. --max-size 20G (or set $ZKIMG_CACHE_MAX)")
        freed = store.prune(bound)
        print(f"pruned       {store.cache_dir} to {_megabytes(store.usage().total_bytes)} "
              f"({_megabytes(freed)} freed; bound {_megabytes(bound)})")
        return EXIT_OK
    usage = store.usage()
    kinds = usage.by_kind()
    if a.json:
        print(json.dumps({"directory": str(usage.directory), "bytes": usage.total_bytes,
                          "kinds": {k: {"entries": n, "bytes": b} for k, (n, b) in kinds.items()},
                          "max_bytes": default_cache_max()}, indent=2))
        return EXIT_OK
    names = {"circuit": "circuits", "keys": "keys", "srs": "SRS files", "build": "unfinished", "other": "other"}
    lines = [f"cache        {usage.directory}", f"size         {_megabytes(usage.total_bytes)}"
             + (f" (bound {_megabytes(default_cache_max() or 0)}, $ZKIMG_CACHE_MAX)" if default_cache_max() else "")]
    for kind, (n, b) in sorted(kinds.items()):
        lines.append(f"{names.get(kind, kind):<12} {n} ({_megabytes(b)})")
    if any(e.stale for e in usage.entries):
        lines.append("(unfinished builds of interrupted runs: `zkimg cache prune` removes them)")
    print("\n".join(lines))
    return EXIT_OK


def _megabytes(n: int) -> str:
    return f"{n / 2 ** 30:.2f} GiB" if n >= 2 ** 30 else f"{n / 2 ** 20:.1f} MiB"


# --------------------------------------------------------------------------- parser

EPILOG = """exit codes: 0 ok, 1 not verified (the failed check is printed), 2 bad command line,
3 unreadable or malformed input, 4 proving/circuit failure, 5 internal error, 130 interrupted"""


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _pin(text: str) -> Tuple[int, str]:
    k, _, digest = text.partition("=")
    try:
        if not re.fullmatch(r"[0-9]{1,2}", k):
            raise MalformedInput("K must be a logrows of one or two digits")
        return int(k), check_hex64(digest.lower(), "the digest")
    except MalformedInput:
        raise argparse.ArgumentTypeError(f"expected K=<64 hex digits>, got {text!r}") from None


def _counts(text: str) -> List[int]:
    return [_positive(part) for part in text.split(",")]


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)  # every command that writes or reports
    common.add_argument("-q", "--quiet", action="store_true", help="no progress or summaries")
    common.add_argument("-v", "--verbose", action="count", default=0, help="log to stderr (-vv: debug)")
    common.add_argument("--force", action="store_true", help="overwrite existing output files")
    cache = argparse.ArgumentParser(add_help=False)
    cache.add_argument("--cache", type=Path, default=None,
                       help="circuit and key cache (default $ZKIMG_CACHE or ~/.cache/zkimg; "
                            "bound it with $ZKIMG_CACHE_MAX, e.g. 20G)")
    circuits = argparse.ArgumentParser(add_help=False, parents=[cache])  # commands that build or check proofs
    circuits.add_argument("--srs", type=Path, default=None,
                          help="directory of ceremony SRS files kzg<K>.srs (default: a development SRS)")
    circuits.add_argument("--srs-digest", metavar="K=SHA256", action="append", type=_pin,
                          help="pin the SHA-256 of the --srs file for logrows K (repeat per K)")

    p = _Parser(prog="zkimg", description="Zero-knowledge attestations of exact image edits.",
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"zkimg {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=argparse.ArgumentParser)

    k = sub.add_parser("keygen", parents=[common], help="make a camera signing key",
                       description="Make a camera key: OUT (private, 0600) and OUT.pub.pem (public).", epilog=EPILOG)
    k.set_defaults(run=cmd_keygen, parser=k)
    k.add_argument("--out", "-o", default="camera.pem", help="private key file (default camera.pem)")
    k.add_argument("--curve", choices=["Ed25519", "P-256"], default="Ed25519")
    k.add_argument("--passphrase-env", metavar="VAR", help="encrypt the key with the passphrase in $VAR")
    k.add_argument("--c2pa-dev-ca", metavar="DIR", type=Path,
                   help="also make a development C2PA root CA and signer certificate in DIR (tests, demos)")

    c = sub.add_parser("capture", parents=[common, circuits], help="commit to a photo and sign it (the camera's step)",
                       description="Commit to IMAGE tile by tile with fresh salts and sign the root. Writes "
                                   "OUT.capture.json (public) and OUT.secrets.npz (secret).", epilog=EPILOG)
    c.set_defaults(run=cmd_capture, parser=c)
    c.add_argument("image", help="PNG, JPEG, TIFF or WebP")
    c.add_argument("--key", required=True, help="camera private key (from keygen)")
    c.add_argument("--out", "-o", help="output stem (default: the image path without its suffix)")
    c.add_argument("--tile", type=_positive, default=32, help="tile side in pixels (default 32)")
    c.add_argument("--border", type=int, default=None,
                   help="border cell width (default min(2, tile/4); 0 under --scheme kzg)")
    c.add_argument("--scheme", choices=["poseidon", "kzg"], default="poseidon",
                   help="commitment scheme: poseidon (portable, no SRS; default) or kzg (each tile a KZG column "
                        "under the --srs files: proves several times faster; see the README)")
    c.add_argument("--logrows", type=_positive, default=None,
                   help="--scheme kzg: column height 2^K (default: the tile's, times 4)")
    c.add_argument("--alpha", choices=["auto", "keep", "drop"], default="auto",
                   help="alpha channel: auto drops it if fully opaque, else refuses (default auto)")
    c.add_argument("--orientation", choices=["apply", "ignore"], default="apply",
                   help="EXIF orientation: apply it to the pixels (default) or ignore it")
    c.add_argument("--passphrase-env", metavar="VAR", help="the key's passphrase is in $VAR")

    pr = sub.add_parser("prove", parents=[common, circuits], help="prove an edit of a captured photo",
                        description="Prove that the edit applied to the captured (hidden) photo gives the "
                                    "output. The edit is --pipeline FILE (JSON or YAML) or step options, "
                                    "applied in the order given.", epilog=EPILOG)
    pr.set_defaults(run=cmd_prove, parser=pr)
    pr.add_argument("--capture", required=True, help="public capture record (X.capture.json)")
    pr.add_argument("--secrets", help="capture secrets (X.secrets.npz; not needed with --dry-run)")
    pr.add_argument("--out", "-o", help="attestation bundle to write (e.g. edit.zkimg; not needed with --dry-run)")
    pr.add_argument("--image-out", help="also write the edited image (lossless: .png, .tif, .webp)")
    pr.add_argument("--pipeline", type=Path, help="pipeline file (.json, .yaml)")
    for flag, cls in cli_options().items():  # one option per registered transform (zkimg.transforms.REGISTRY)
        bare: Dict[str, Any] = {} if cls.cli_default is None else {"nargs": "?", "const": cls.cli_default}
        pr.add_argument(flag, metavar=cls.cli_metavar, action=_Step, dest="steps", help=cls.cli_help, **bare)
    pr.add_argument("--hide-output", action="store_true", help="commit to the output instead of publishing it")
    pr.add_argument("--segments", metavar="N,N,...", type=_counts, help="prove groups of steps separately (hidden intermediates)")
    pr.add_argument("--tiles-per-job", type=_positive, default=1,
                    help="tiles along the width proved by one job (default 1; more: fewer, larger proofs)")
    pr.add_argument("--workdir", type=Path, help="keep finished tile proofs here; rerun to resume")
    pr.add_argument("--dry-run", action="store_true",
                    help="print the plan and what it will cost (jobs, circuits, rows, time, memory, bundle "
                         "size) without proving; needs only --capture")
    pr.add_argument("--jobs", type=_positive, help="worker processes (default: one per core)")
    pr.add_argument("--dask", metavar="ADDRESS", help="run tile jobs on a Dask scheduler (tcp://host:8786)")
    pr.add_argument("--c2pa-cert", help="sign a C2PA manifest holding the bundle into --image-out with this "
                                        "PEM certificate chain")
    pr.add_argument("--c2pa-key", help="the certificate's PEM private key (default: in --c2pa-cert)")
    pr.add_argument("--c2pa-alg", default="es256", help="C2PA signing algorithm (default es256)")

    v = sub.add_parser("verify", parents=[common, circuits], help="verify an attestation against a published image",
                       description="Check the proofs, the camera signature and every link. Without --bundle "
                                   "the bundle is read from IMAGE's C2PA manifest.", epilog=EPILOG)
    v.set_defaults(run=cmd_verify, parser=v)
    v.add_argument("image", nargs="?", help="published image (omit for a hidden output)")
    v.add_argument("--bundle", "-b", help="attestation bundle (default: from the image's C2PA manifest)")
    v.add_argument("--allow-dev-srs", action="store_true",
                   help="accept proofs checked with a development SRS (the default without --srs): "
                        "for tests and demos only, since whoever made that SRS could forge proofs")
    v.add_argument("--allow-unpinned-srs", action="store_true",
                   help="accept --srs files that are neither the public ceremony's (by SHA-256) nor pinned "
                        "with --srs-digest")
    v.add_argument("--trust", action="append", required=True, metavar="PUBKEY",
                   help="a trusted camera public key (PEM); repeat for several")
    v.add_argument("--c2pa-trust", action="append", metavar="CA_PEM",
                   help="trust anchor for the C2PA manifest signature (reported, not required)")

    i = sub.add_parser("inspect", help="summarise a bundle (or an image's manifest) without verifying",
                       description="Print what a bundle claims: pipeline, sizes, camera key, tiles, SRS.",
                       epilog=EPILOG)
    i.add_argument("file", help="bundle file, or an image with a C2PA manifest")
    i.add_argument("--json", action="store_true", help="machine-readable output")
    i.set_defaults(run=cmd_inspect, parser=i, quiet=False, verbose=0)

    ca = sub.add_parser("cache", parents=[cache], help="show, prune or clear the circuit and key cache",
                        description="The cache holds compiled circuits, their proving and verifying keys (the "
                                    "bulk: hundreds of MB per HD circuit) and development SRS files. Anything "
                                    "pruned is rebuilt when next needed.", epilog=EPILOG)
    ca.add_argument("action", nargs="?", choices=["info", "prune", "clear"], default="info",
                    help="info (default): size by kind; prune: delete least recently used circuits and keys "
                         "down to --max-size; clear: delete everything, SRS files included")
    ca.add_argument("--max-size", metavar="SIZE", help="prune: the bound, e.g. 500M or 20G (default $ZKIMG_CACHE_MAX)")
    ca.add_argument("--json", action="store_true", help="info: machine-readable output")
    ca.set_defaults(run=cmd_cache, parser=ca, quiet=False, verbose=0)

    d = sub.add_parser("demo", help="the whole flow on a bundled real photo, in about a minute",
                       description="Make a camera key, capture a bundled real photo, prove an edit of it, save "
                                   "and reload the bundle, verify it, and show that a tampered image is refused.")
    demo.add_arguments(d)
    d.set_defaults(quiet=False, verbose=0)
    return p


class _Parser(argparse.ArgumentParser):
    """The top-level parser: step values that start with ``-`` stay values (see below)."""

    def parse_known_args(self, args: Optional[Sequence[str]] = None,  # type: ignore[override]
                         namespace: Optional[argparse.Namespace] = None) -> Tuple[argparse.Namespace, List[str]]:
        return super().parse_known_args(_attach_negative_values(sys.argv[1:] if args is None else args), namespace)


def _attach_negative_values(argv: Sequence[str]) -> List[str]:
    """``--crop -1,0,10,10`` → ``--crop=-1,0,10,10``: argparse would read a value starting with
    ``-`` as an option; a step option always takes the value that follows it."""
    steps = {flag for flag, cls in cli_options().items() if cls.cli_default is None}
    out: List[str] = []
    args = list(argv)
    i = 0
    while i < len(args):
        if args[i] in steps and i + 1 < len(args) and re.match(r"-[0-9.]", args[i + 1]):
            out.append(f"{args[i]}={args[i + 1]}")
            i += 2
        else:
            out.append(args[i])
            i += 1
    return out


def cli_message(message: str, parser: Optional[argparse.ArgumentParser]) -> str:
    """A library message in CLI syntax: ``name='value'`` (or ``name=True``) where ``--name``
    is an option of the command becomes ``--name value`` (``--name``)."""
    if parser is None:
        return message
    options = {s for action in parser._actions for s in action.option_strings}

    def option(m: "re.Match[str]") -> str:
        flag = "--" + m.group(1).replace("_", "-")
        if flag not in options:
            return m.group(0)
        return flag if m.group(2) == "True" else f"{flag} {m.group(3)}"

    return re.sub(r"\b([a-z][a-z_]*)=('([^']*)'|True)", option, message)


def _interrupted(a: argparse.Namespace) -> str:
    if a.run is not cmd_prove:
        return "interrupted"
    if a.workdir:
        return (f"interrupted: the finished tile proofs are kept in {a.workdir}; run the same command again "
                "to resume from them")
    return "interrupted: finished tile proofs were not kept; pass --workdir DIR to make a long run resumable"


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    logging.basicConfig(level={0: logging.WARNING, 1: logging.INFO}.get(a.verbose, logging.DEBUG),
                        format="%(levelname)s %(name)s: %(message)s")
    if not a.verbose:
        warnings.simplefilter("ignore", DevelopmentSRSWarning)  # the commands say it once, plainly
    own = getattr(a, "parser", None)
    try:
        return int(a.run(a))
    except KeyboardInterrupt:
        print(_interrupted(a), file=sys.stderr)
        return EXIT_INTERRUPTED
    except VerificationError as e:  # e.g. a capture record whose own signature fails
        print(f"NOT VERIFIED: {e.check} check failed: {cli_message(str(e), own)}", file=sys.stderr)
        return EXIT_NOT_VERIFIED
    except (ProvingError, CircuitError) as e:
        print(f"zkimg: proving failed: {cli_message(str(e), own)}", file=sys.stderr)
        return EXIT_PROVING
    except (Error, OSError) as e:
        print(f"zkimg: {cli_message(str(e), own)}", file=sys.stderr)
        return EXIT_INPUT
    except (SystemExit, GeneratorExit):
        raise
    except BaseException as e:  # a bug, or a Rust panic (pyo3's PanicException is a BaseException)
        log.debug("internal error", exc_info=True)
        print(f"zkimg: internal error ({type(e).__name__}: {e}); please report it (-vv shows the traceback)",
              file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
