"""Compiled circuits, keys and the SRS, content-addressed on disk (ezkl is called through
:mod:`zkimg.hazmat._ezkl`).

A circuit is addressed by ``sha256(ezkl version ‖ run args ‖ ONNX bytes)``; its keys by
that digest plus the SRS digest. Entries are built in a temporary directory, checksummed
into ``MANIFEST.json`` together with the address they were built for, and renamed into
place, so concurrent writers and interrupted writes never leave a half-written entry that
is trusted; an entry whose checksums or address fail, or whose ONNX graph is not the one
this code lowers for the job, is deleted and rebuilt. The same job shape therefore pays for
``setup`` once.

Whoever can write to a cache can still forge a consistent entry (a manifest is a checksum,
not a signature): a verifier runs with a cache of its own (``CircuitStore(cache_dir=...)``,
created owner-only), never one shared with provers; verifying keys of the built-in jobs are
also compared with the digests pinned per SRS in ``zkimg/data/vk_pins.json``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import os
import re
import shutil
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from .._codec import canonical_json
from .._fileio import write_atomic
from ..errors import CacheCorruption, CircuitError, InvalidParameter
from ._ezkl import BASE_RUN_ARGS, EZKL_VERSION, compile_circuit, gen_srs, min_logrows, setup
from .commitments import SALT_BYTES, scheme_named
from .lowering import CircuitSpec, LoweredJob, TileJob, lower_circuit

log = logging.getLogger("zkimg.hazmat.circuits")

CACHE_LAYOUT = "zkimg.cache/2"  # 2: each entry's manifest names the address it was built for
TIMINGS_FILE = "timings.json"  # the costs measured on this machine (Timings), read by estimates
__all__ = ["BASE_RUN_ARGS", "EZKL_VERSION", "RUN_ARGS", "CACHE_LAYOUT", "SRS", "SRS_TRUST", "Circuit", "CircuitStore",
           "DevelopmentSRSWarning", "Keys", "Timings", "min_logrows", "run_args", "sha256_file", "weakest_trust"]


def run_args(spec: CircuitSpec) -> Dict[str, Any]:
    """ezkl's run arguments for ``spec``: the backend's fixed ones and its scheme's visibilities."""
    return {**BASE_RUN_ARGS, **spec.commitment_scheme.circuit_run_args(spec)}


#: Run arguments of the Poseidon scheme's circuits (recorded in circuits/record.json).
RUN_ARGS: Dict[str, Any] = {**BASE_RUN_ARGS, **scheme_named("poseidon").run_args}


def default_cache_dir() -> Path:
    """``$ZKIMG_CACHE`` if set, else ``$XDG_CACHE_HOME/zkimg`` (``~/.cache/zkimg``)."""
    env = os.environ.get("ZKIMG_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "zkimg"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class DevelopmentSRSWarning(UserWarning):
    """Proofs made with a locally generated SRS are not trustworthy: its maker knows the trapdoor."""


#: SHA-256 of the public ceremony SRS files (the perpetual powers of tau, as ezkl serves them
#: as ``kzg{k}.srs``), by logrows, as published in ezkl's source (``src/srs_sha.rs``).
CEREMONY_SRS_SHA256: Mapping[int, str] = {
    1: "cafb2aa72c200ddc4e28aacabb8066e829207e2484b8d17059a566232f8a297b",
    2: "8194ec51da5d332d2e17283ade34920644774452c2fadf33742e8c739e275d8e",
    3: "0729e815bce2ac4dfad7819982c6479c3b22c32b71f64dca05e8fdd90e8535ef",
    4: "2c0785da20217fcafd3b12cc363a95eb2529037cc8a9bddf8fb15025cbc8cdc9",
    5: "5b950e3b76e7a9923d69f6d6585ce6b5f9458e5ec57a71c9de5005d32d544692",
    6: "85030b2924111fc60acaf4fb8a7bad89531fbe0271aeab0c21e545f71eee273d",
    7: "e65f95150519fe01c2bedf8f832f5249822ef84c9c017307419e10374ff9eeb1",
    8: "446092fd1d6030e5bb2f2a8368267d5ed0fbdb6a766f6c5e4a4841827ad3106f",
    9: "493d088951882ad81af11e08c791a38a37c0ffff14578cf2c7fb9b7bca654d8b",
    10: "9705d450e5dfd06adb673705f7bc34418ec86339203198beceb2ae7f1ffefedb",
    11: "257fa566ed9bc0767d3e63e92b5e966829fa3347d320a32055dc31ee7d33f8a4",
    12: "28b151069f41abc121baa6d2eaa8f9e4c4d8326ddbefee2bd9c0776b80ac6fad",
    13: "d5d94bb25bdc024f649213593027d861042ee807cafd94b49b54f1663f8f267d",
    14: "c09129f064c08ecb07ea3689a2247dcc177de6837e7d2f5f946e30453abbccef",
    15: "90807800a1c3b248a452e1732c45ee5099f38b737356f5542c0584ec9c3ebb45",
    16: "2a1a494630e71bc026dd5c0eab4c1b9a5dbc656228c1f0d48f5dbd3909b161d3",
    17: "41509f380362a8d14401c5ae92073154922fe23e45459ce6f696f58607655db7",
    18: "d0148475717a2ba269784a178cb0ab617bc77f16c58d4a3cbdfe785b591c7034",
    19: "d1a1655b4366a766d1578beb257849a92bf91cb1358c1a2c37ab180c5d3a204d",
    20: "54ef75911da76d7a6b7ea341998aaf66cb06c679c53e0a88a4fe070dd3add963",
    21: "486e044cf98704e07f41137d2b89698dc03d1fbf34d13b60902fea19a6013b4b",
    22: "1ee9b4396db3e4e2516ac5016626ab6ba967f091d5d23afbdb7df122a0bb9d0c",
    23: "748e48b9b6d06f9c82d26bf551d0af43ee2e801e4be56d7ccb20312e267fd1d6",
    24: "f94fa4afa2f5147680f907d4dd96a8826206c26bd3328cd379feaed614b234de",
    25: "dec49a69893fbcd66cd06296b2d936a6aceb431c130b2e52675fe4274b504f57",
    26: "b198a51d48b88181508d8e4ea9dea39db285e4585663b29b7e4ded0c22a94875",
}

#: How far an SRS file is trusted, weakest first (see :meth:`SRS.trust`).
SRS_TRUST = ("development", "unpinned", "pinned", "ceremony")


def weakest_trust(levels: "Sequence[str]") -> str:
    """The weakest of ``levels`` (each one of :data:`SRS_TRUST`); ``"ceremony"`` if empty."""
    return min(levels, key=SRS_TRUST.index, default="ceremony")


# --------------------------------------------------------------------------- SRS


class SRS:
    """KZG structured reference strings, one file per ``logrows`` (``kzg{k}.srs``).

    ``SRS.from_directory(path, expected_digests)``: files from a public ceremony
    (e.g. ezkl's perpetual-powers-of-tau files), optionally pinned by SHA-256.
    ``SRS.development_srs()``: generated locally on first use, cached, and flagged as
    untrustworthy — anyone who generated it could forge proofs.
    """

    def __init__(self, directory: Path, *, development: bool,
                 expected_digests: Optional[Mapping[int, str]] = None) -> None:
        self.directory = Path(directory)
        self.development = development
        self.expected_digests = dict(expected_digests or {})
        self._digests: Dict[Path, Tuple[Tuple[int, int], str]] = {}
        self._lock = threading.Lock()
        self._warn = True  # a copy sent to an executor's worker stays quiet: its owner was warned

    def __getstate__(self) -> Dict[str, Any]:  # picklable for executors: drop the lock and memo
        return {"directory": self.directory, "development": self.development,
                "expected_digests": self.expected_digests}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__init__(state["directory"], development=state["development"],  # type: ignore[misc]
                      expected_digests=state["expected_digests"])
        self._warn = False

    @classmethod
    def development_srs(cls, cache_dir: Optional[Path] = None) -> "SRS":
        return cls(Path(cache_dir or default_cache_dir()) / "srs-development", development=True)

    @classmethod
    def from_directory(cls, directory: Path | str, expected_digests: Optional[Mapping[int, str]] = None) -> "SRS":
        return cls(Path(directory), development=False, expected_digests=expected_digests)

    def path(self, logrows: int) -> Path:
        """Path of the SRS for ``logrows``; a development SRS is generated once if missing."""
        p = self.directory / f"kzg{logrows}.srs"
        if self.development and self._warn:
            warnings.warn("zkimg is using a locally generated development SRS: proofs are NOT "
                          "trustworthy; pass a ceremony SRS for real use", DevelopmentSRSWarning,
                          stacklevel=3)
        if self.development and not p.exists():
            self._generate(p, logrows)
        elif not p.exists():
            raise CircuitError(f"no SRS file for logrows={logrows}: expected {p}")
        return p

    def _generate(self, p: Path, logrows: int) -> None:
        log.warning("generating a development SRS for logrows=%d at %s (not trustworthy)", logrows, p)
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".srs-{os.getpid()}-")
        os.close(fd)
        try:
            gen_srs(Path(tmp), logrows)
            try:
                os.link(tmp, p)  # first writer wins; a concurrent one keeps the existing file
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)

    def trust(self, logrows: int) -> str:
        """How far the file for ``logrows`` is trusted: ``"development"`` (generated here),
        ``"ceremony"`` (its SHA-256 is the published digest of the public ceremony file),
        ``"pinned"`` (equals a digest the caller pinned; a pinned digest that does not match
        is refused by :meth:`digest`), else ``"unpinned"``: whoever made it may know its
        trapdoor and forge proofs, and it is never reported as a ceremony SRS."""
        if self.development:
            return "development"
        d = self.digest(logrows)
        if CEREMONY_SRS_SHA256.get(logrows) == d:
            return "ceremony"
        return "pinned" if self.expected_digests.get(logrows) == d else "unpinned"

    def digest(self, logrows: int) -> str:
        """SHA-256 of the SRS file for ``logrows`` (checked against a pinned digest if any)."""
        p = self.path(logrows)
        st = p.stat()
        key = (st.st_size, st.st_mtime_ns)
        with self._lock:
            cached = self._digests.get(p)
        if cached and cached[0] == key:
            return cached[1]
        d = sha256_file(p)
        pinned = self.expected_digests.get(logrows)
        if pinned is not None and pinned != d:
            raise CircuitError(f"SRS file {p} has digest {d}, expected the pinned {pinned}")
        with self._lock:
            self._digests[p] = (key, d)
        return d


# --------------------------------------------------------------------------- circuits


@dataclass(frozen=True)
class Circuit:
    """A compiled circuit on disk (and, once ``keys()`` ran, its keys for one SRS)."""

    digest: str
    directory: Path
    logrows: int
    num_rows: int
    poseidon_rows: int
    hashed_felts: int  # field elements fed to Poseidon (16 byte values each)
    hints: Tuple[Tuple[str, Tuple[int, ...]], ...]
    settings: Dict[str, Any] = field(repr=False, compare=False)

    @property
    def laid_out_rows(self) -> int:
        """``2^logrows`` per block of main columns: what proving and setup scale with (a KZG
        job longer than its capture's columns is laid out in several blocks side by side)."""
        n = 1 << int(self.logrows)
        return n * max(1, -(-int(self.num_rows) // n))

    @property
    def committed_columns(self) -> int:
        """Committed (``polycommit``) columns: one per graph input, then the output's if it
        is hidden under the KZG scheme; the proof's first points, in this order."""
        return len(self.settings["module_sizes"].get("polycommit") or [])

    @property
    def output_point(self) -> Optional[int]:
        """Where a committed output column's point sits among the proof's points (the last
        committed column), or None if the output is not a committed column."""
        if self.settings["run_args"].get("output_visibility") != "KZGCommit":  # ezkl's name for "polycommit"
            return None
        return self.committed_columns - 1

    @property
    def onnx_path(self) -> Path:
        return self.directory / "network.onnx"

    @property
    def settings_path(self) -> Path:
        return self.directory / "settings.json"

    @property
    def compiled_path(self) -> Path:
        return self.directory / "network.ezkl"


@dataclass(frozen=True)
class Keys:
    vk_path: Path
    pk_path: Path
    srs_path: Path
    srs_digest: str


@dataclass(frozen=True)
class Timings:
    """What proving cost on this machine, as last measured by
    :func:`~zkimg.hazmat.proving.prove_plan`, per ``logrows`` (rates are per row of
    ``2^logrows``, the size every cost of a circuit grows with; fixed costs per job weigh
    more on small circuits, so each size keeps its own rates). Empty until measured."""

    setup_s_per_row: Mapping[int, float] = field(default_factory=dict)  # one circuit's key generation
    prove_s_per_row: Mapping[int, float] = field(default_factory=dict)  # a plan's proving wall time
    prove_workers: Optional[int] = None  # the worker processes that wall time was measured with
    rss_bytes_per_row: Mapping[int, float] = field(default_factory=dict)  # a proving process's peak
    proof_bytes: Mapping[str, int] = field(default_factory=dict)  # by circuit digest

    @staticmethod
    def rate(table: Mapping[int, float], logrows: int) -> Optional[float]:
        """The rate measured at ``logrows``, else at the nearest size measured, else ``None``."""
        if not table:
            return None
        return table[min(table, key=lambda k: (abs(k - logrows), -k))]

    def to_json(self) -> Dict[str, Any]:
        return {"setup_s_per_row": {str(k): v for k, v in self.setup_s_per_row.items()},
                "prove_s_per_row": {str(k): v for k, v in self.prove_s_per_row.items()},
                "prove_workers": self.prove_workers,
                "rss_bytes_per_row": {str(k): v for k, v in self.rss_bytes_per_row.items()},
                "proof_bytes": dict(self.proof_bytes)}

    @classmethod
    def from_json(cls, d: Any) -> "Timings":
        """Lenient: this is the cache's own note, but a bad one only loses the measurements."""
        if not isinstance(d, dict):
            return cls()

        def rates(name: str) -> Dict[int, float]:
            table = d.get(name)
            if not isinstance(table, dict):
                return {}
            return {int(k): float(v) for k, v in table.items()
                    if isinstance(k, str) and k.isdigit() and 0 < int(k) <= 64
                    and isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < 1e6}

        workers = d.get("prove_workers")
        sizes = d.get("proof_bytes")
        return cls(rates("setup_s_per_row"), rates("prove_s_per_row"),
                   workers if isinstance(workers, int) and not isinstance(workers, bool) and 0 < workers < 4096
                   else None, rates("rss_bytes_per_row"),
                   {str(k): v for k, v in sizes.items() if isinstance(v, int) and 0 < v < 1 << 30}
                   if isinstance(sizes, dict) else {})


@dataclass
class CacheStats:
    compiles: int = 0
    setups: int = 0
    hits: int = 0
    rebuilt_corrupt: int = 0


def _hashed_felts(spec: CircuitSpec) -> int:
    scheme, extra = spec.commitment_scheme, SALT_BYTES if spec.hidden_output else 0
    return (sum(scheme.committed_values(n + SALT_BYTES) for n in spec.part_sizes)
            + scheme.committed_values(math.prod(spec.output_shape) + extra))


def _write_manifest(directory: Path, files: List[str], built_for: str) -> None:
    manifest = {"layout": CACHE_LAYOUT, "for": built_for, "files": {f: sha256_file(directory / f) for f in files}}
    (directory / "MANIFEST.json").write_text(json.dumps(manifest, sort_keys=True))


def _check_manifest(directory: Path, built_for: str, only: Optional[Tuple[str, ...]] = None) -> bool:
    """Whether ``directory`` was built for the address ``built_for`` and its files (or just
    those in ``only``) match its manifest."""
    try:
        manifest = json.loads((directory / "MANIFEST.json").read_text())
        files = manifest["files"]
        if (manifest.get("layout") != CACHE_LAYOUT or manifest.get("for") != built_for
                or not isinstance(files, dict) or not files):
            return False
        names = files if only is None else only
        return all(f in files and sha256_file(directory / f) == files[f] for f in names)
    except (OSError, ValueError, KeyError, TypeError):
        return False


#: The automatic bound (``CircuitStore.max_bytes``) leaves entries used this recently alone.
AUTO_PRUNE_IDLE_S = 3600.0
_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?)(?:i?B)?\s*", re.IGNORECASE)


def parse_size(value: "int | str", what: str = "max_bytes") -> int:
    """Bytes from an int or a size such as ``"500M"``, ``"20G"``, ``"1.5GiB"`` (powers of 1024);
    an error names ``what`` (the parameter, option or variable the value came from)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise InvalidParameter(what, "must not be negative")
        return value
    m = _SIZE.fullmatch(value) if isinstance(value, str) else None
    if m is None:
        raise InvalidParameter(what, f"expected a size such as 500M or 20G, got {value!r}")
    return int(float(m.group(1)) * 1024 ** "_KMGT".index(m.group(2).upper() or "_"))


def default_cache_max() -> Optional[int]:
    """``$ZKIMG_CACHE_MAX`` as bytes (e.g. ``20G``), or ``None`` (unbounded) if unset."""
    env = os.environ.get("ZKIMG_CACHE_MAX")
    return parse_size(env, "$ZKIMG_CACHE_MAX") if env else None


@dataclass(frozen=True)
class CacheEntry:
    """One thing in the cache: a compiled circuit, a circuit's keys for one SRS, an SRS file,
    or an unfinished build (``stale``: left by an interrupted run, safe to delete)."""

    path: Path
    kind: str  # "circuit", "keys", "srs", "build" or "other"
    bytes: int
    last_used: float  # seconds since the epoch
    stale: bool = False


@dataclass(frozen=True)
class CacheUsage:
    directory: Path
    entries: Tuple[CacheEntry, ...]

    @property
    def total_bytes(self) -> int:
        return sum(e.bytes for e in self.entries)

    def by_kind(self) -> Dict[str, Tuple[int, int]]:
        """kind → (entries, bytes)."""
        out: Dict[str, Tuple[int, int]] = {}
        for e in self.entries:
            n, b = out.get(e.kind, (0, 0))
            out[e.kind] = (n + 1, b + e.bytes)
        return out


def _tree_bytes(path: Path) -> int:
    """Bytes under ``path`` (a file or a folder); what vanishes meanwhile counts nothing."""
    try:
        if not path.is_dir():
            return path.stat().st_size
    except OSError:
        return 0
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += (Path(root) / f).stat().st_size
            except OSError:
                pass
    return total


def _touch(path: Path) -> None:
    """Mark a cache entry as just used (its mtime orders pruning)."""
    try:
        os.utime(path)
    except OSError:
        pass


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


#: A build left by a process that still exists, or by one on another machine, is presumed
#: alive this long (key generation of the largest circuits takes hours).
BUILD_TIMEOUT_S = 24 * 3600.0
_BUILD = re.compile(r"\.(?:.+)-([0-9]+)-[^-]+")


def _abandoned(name: str, age_s: float) -> bool:
    """Whether an unfinished build (``.<entry>-<pid>-<random>``, or an SRS ``.srs-<pid>-…``)
    was abandoned: its process is gone, or it is older than :data:`BUILD_TIMEOUT_S`."""
    m = _BUILD.fullmatch(name)
    if m is not None and age_s < BUILD_TIMEOUT_S:
        try:
            os.kill(int(m.group(1)), 0)
        except ProcessLookupError:
            return True
        except (OSError, OverflowError):
            return False  # alive (another user's) or not ours to ask about
        return False
    return age_s > (BUILD_TIMEOUT_S if m is not None else 3600.0)


def cache_usage(directory: Path) -> CacheUsage:
    """What a cache folder holds (see :class:`CacheEntry`); an absent folder holds nothing.
    zkimg's are ``circuits/``, ``srs-development/`` and the timings note; anything else at the
    top level is listed as ``"other"`` and never deleted (``CircuitStore.clear`` included)."""
    entries: List[CacheEntry] = []
    now = time.time()
    for sub in ("circuits", "srs-development"):
        folder = directory / sub
        try:
            children = list(folder.iterdir())
        except OSError:
            continue
        for p in children:
            try:
                mtime = p.stat().st_mtime
            except OSError:  # removed meanwhile (a finished build, another process's prune)
                continue
            if p.name.startswith("."):  # a build in progress, or one an interrupted run left
                kind, stale = "build", _abandoned(p.name, now - mtime)
            else:
                kind, stale = ("srs" if sub == "srs-development" else "keys" if ".keys-" in p.name else "circuit"), False
            entries.append(CacheEntry(p, kind, _tree_bytes(p), mtime, stale))
    try:
        top = list(directory.iterdir())
    except OSError:
        top = []
    for p in top:
        if p.name not in ("circuits", "srs-development"):
            try:
                mtime = p.stat().st_mtime
            except OSError:
                continue
            entries.append(CacheEntry(p, "timings" if p.name == TIMINGS_FILE else "other", _tree_bytes(p), mtime))
    return CacheUsage(directory, tuple(entries))


@functools.lru_cache(maxsize=1)  # read once per process, not per store (a prover's worker makes one per job)
def shipped_vk_pins() -> Mapping[str, Mapping[str, str]]:
    """The reviewed verifying-key digests of the built-in jobs, per SRS digest
    (``zkimg/data/vk_pins.json``, written by ``circuits/record.py --pin-srs DIR``)."""
    from importlib import resources

    try:
        data = json.loads(resources.files("zkimg").joinpath("data").joinpath("vk_pins.json").read_text())
    except FileNotFoundError:
        return {}
    return {str(srs): {str(c): str(v) for c, v in pins.items()} for srs, pins in data["pins"].items()}


class CircuitStore:
    """Builds, caches and loads circuits and keys for tile jobs.

    ``cache_dir`` defaults to :func:`default_cache_dir` (created owner-only); ``srs`` to a
    development SRS kept in the same cache; ``vk_pins`` to :func:`shipped_vk_pins`. A
    verifier should use a cache no one else writes to (see the module docstring).
    """

    def __init__(self, cache_dir: Optional[Path | str] = None, srs: Optional[SRS] = None,
                 vk_pins: Optional[Mapping[str, Mapping[str, str]]] = None, *,
                 max_bytes: "Optional[int] | str" = "env") -> None:
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        #: After each new entry the cache is pruned to this many bytes (``None``: unbounded);
        #: default ``$ZKIMG_CACHE_MAX`` (e.g. ``20G``), else unbounded.
        self.max_bytes = default_cache_max() if max_bytes == "env" else (
            None if max_bytes is None else parse_size(max_bytes))
        self.srs = srs if srs is not None else SRS.development_srs(self.cache_dir)
        #: SRS digest → circuit digest → SHA-256 of the verifying key (default: the shipped pins).
        self.vk_pins: Mapping[str, Mapping[str, str]] = shipped_vk_pins() if vk_pins is None else vk_pins
        self.stats = CacheStats()
        self._memo: Dict[str, Circuit] = {}
        self._by_spec: Dict[CircuitSpec, Circuit] = {}
        self._keys: Dict[Tuple[str, bool], Keys] = {}
        self._lock = threading.Lock()

    # ----- atomic, checksummed directories

    def _entry(self, directory: Path, built_for: str, build: Callable[[Path], List[str]],
               only: Optional[Tuple[str, ...]] = None, sound: Callable[[Path], bool] = lambda d: True) -> Path:
        """Return ``directory`` after verifying that it was built for ``built_for``, its
        manifest (for the files in ``only``, if given) and ``sound``; else build it atomically."""
        self.cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if directory.exists():
            if _check_manifest(directory, built_for, only) and sound(directory):
                self.stats.hits += 1
                _touch(directory)
                return directory
            log.warning("cache entry %s failed its checks; rebuilding it", directory)
            self.stats.rebuilt_corrupt += 1
            shutil.rmtree(directory, ignore_errors=True)
        directory.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}-{os.getpid()}-"))
        try:
            files = build(tmp)
            _write_manifest(tmp, files, built_for)
            try:
                os.rename(tmp, directory)
            except OSError:  # another writer finished first: use theirs if it is sound
                if not (_check_manifest(directory, built_for) and sound(directory)):
                    raise CacheCorruption(f"concurrent cache entry {directory} is corrupt") from None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        if self.max_bytes is not None:
            self.prune(self.max_bytes, idle_s=AUTO_PRUNE_IDLE_S)
        return directory

    # ----- size and pruning (what ``zkimg cache`` runs)

    def usage(self) -> "CacheUsage":
        """The cache's entries and their sizes (nothing is checked or changed)."""
        return cache_usage(self.cache_dir)

    def prune(self, max_bytes: int, *, idle_s: float = 0.0) -> int:
        """Delete least recently used circuit and key entries until the cache holds at most
        ``max_bytes`` (SRS files are kept: :meth:`clear` removes them), skipping entries this
        store has used and entries used less than ``idle_s`` seconds ago (another process may
        be proving with them). Unfinished builds older than an hour (an interrupted run's) go
        first; a build still running is never touched. Returns the bytes freed; a pruned entry is
        rebuilt when next needed."""
        with self._lock:
            in_use = {c.directory for c in self._memo.values()} | {k.vk_path.parent for k in self._keys.values()}
        usage = self.usage()
        freed, total, now = 0, usage.total_bytes, time.time()
        for entry in sorted(usage.entries, key=lambda e: (not e.stale, e.last_used)):
            if total <= max_bytes and not entry.stale:
                break
            if entry.kind in ("srs", "timings", "other", "build") and not entry.stale:
                continue  # SRS files go with clear(); a live build is another process's
            if entry.path in in_use or (not entry.stale and now - entry.last_used < idle_s):
                continue
            _remove(entry.path)
            freed, total = freed + entry.bytes, total - entry.bytes
            log.info("pruned cache entry %s (%d bytes)", entry.path, entry.bytes)
        return freed

    def clear(self) -> int:
        """Delete everything zkimg keeps in the cache, SRS files included (files of anyone else
        in the folder are left alone); returns the bytes freed. A development SRS is made
        afresh when next needed, so proofs made with the old one no longer verify here."""
        usage = self.usage()
        mine = [e for e in usage.entries if e.kind != "other"]
        for entry in mine:
            _remove(entry.path)
        for sub in ("circuits", "srs-development"):
            try:
                (self.cache_dir / sub).rmdir()  # only if empty
            except OSError:
                pass
        self._memo.clear()
        self._by_spec.clear()
        self._keys.clear()
        return sum(e.bytes for e in mine)

    # ----- measurements (what costs.estimate reads)

    def timings(self) -> Timings:
        """The costs last measured on this machine with this cache (empty if none yet)."""
        try:
            return Timings.from_json(json.loads((self.cache_dir / TIMINGS_FILE).read_text()))
        except (OSError, ValueError):
            return Timings()

    def record_timings(self, **measured: Any) -> None:
        """Merge new measurements (fields of :class:`Timings`; the per-size tables merge by
        ``logrows``) into the cache's note; best effort."""
        note = self.timings().to_json()
        for name, value in measured.items():
            if isinstance(value, dict):
                note[name] = {**note[name], **{str(k): v for k, v in value.items()}}
            elif value is not None:
                note[name] = value
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_atomic(self.cache_dir / TIMINGS_FILE, json.dumps(note, sort_keys=True).encode())
        except OSError as e:
            log.debug("timings not recorded: %s", e)

    def keyed(self, circuit: Circuit) -> bool:
        """Whether keys for ``circuit`` under this store's SRS are already in the cache (not
        checked: :meth:`keys` checks them); never generates an SRS file."""
        srs_file = self.srs.directory / f"kzg{circuit.logrows}.srs"
        if not srs_file.is_file():
            return False
        return self._keys_dir(circuit, self.srs.digest(circuit.logrows)).is_dir()

    def _keys_dir(self, circuit: Circuit, srs_digest: str) -> Path:
        return circuit.directory.parent / f"{circuit.digest}.keys-{srs_digest[:32]}"

    # ----- circuits

    def circuit(self, job: "TileJob | CircuitSpec") -> Circuit:
        """The compiled circuit of ``job`` (built from the job alone, never from a prover)."""
        spec = job.spec() if isinstance(job, TileJob) else job
        with self._lock:
            if spec in self._by_spec:  # a plan repeats a few specs over many tiles: lower each once
                known = self._by_spec[spec]
                _touch(known.directory)
                return known
        lowered = lower_circuit(spec)
        args = run_args(spec)
        digest = hashlib.sha256(b"zkimg-circuit/1\0" + EZKL_VERSION.encode() + b"\0" + canonical_json(args)
                                + b"\0" + lowered.model).hexdigest()
        with self._lock:
            if digest in self._memo:
                return self._memo[digest]
        directory = self._entry(self.cache_dir / "circuits" / digest, digest, lambda d: self._compile(d, lowered, args),
                                sound=lambda d: (d / "network.onnx").read_bytes() == lowered.model)
        settings = json.loads((directory / "settings.json").read_text())
        circuit = Circuit(
            digest=digest,
            directory=directory,
            logrows=settings["run_args"]["logrows"],
            num_rows=settings["num_rows"],
            poseidon_rows=settings["module_sizes"]["poseidon"][0],
            hashed_felts=_hashed_felts(spec),
            hints=lowered.hints,
            settings=settings,
        )
        with self._lock:
            self._memo[digest] = circuit
            self._by_spec[spec] = circuit
        return circuit

    def _compile(self, d: Path, lowered: LoweredJob, args: Dict[str, Any]) -> List[str]:
        self.stats.compiles += 1
        compile_circuit(d, lowered.model, args)
        return ["network.onnx", "settings.json", "network.ezkl"]

    def keys(self, circuit: Circuit, proving: bool = True) -> Keys:
        """Proving and verifying keys of ``circuit`` under this store's SRS (setup runs once).

        ``proving=False`` (a verifier): only the verifying key is checksummed; the proving
        key (hundreds of MB) is neither read nor to be used.
        """
        srs_path = self.srs.path(circuit.logrows)
        srs_digest = self.srs.digest(circuit.logrows)
        memo_key = f"{circuit.digest}/{srs_digest}"
        with self._lock:  # checksummed once per store, not on every use (a prover's check covers both)
            known = self._keys.get((memo_key, True)) or self._keys.get((memo_key, proving))
        if known is not None:
            _touch(known.vk_path.parent)  # in use: another process's prune leaves it alone
            return known
        pinned = self.vk_pins.get(srs_digest, {}).get(circuit.digest)
        directory = self._entry(self._keys_dir(circuit, srs_digest), memo_key,
                                lambda d: self._setup(d, circuit, srs_path), None if proving else ("vk.key",),
                                sound=lambda d: pinned is None or sha256_file(d / "vk.key") == pinned)
        if pinned is not None and sha256_file(directory / "vk.key") != pinned:  # freshly built, still not it
            raise CircuitError(f"the verifying key built for circuit {circuit.digest[:16]} is not the one pinned "
                               f"for this SRS: this code builds another circuit than the reviewed record")
        keys = Keys(directory / "vk.key", directory / "pk.key", srs_path, srs_digest)
        with self._lock:
            self._keys[(memo_key, proving)] = keys
        return keys

    def _setup(self, d: Path, circuit: Circuit, srs_path: Path) -> List[str]:
        self.stats.setups += 1
        setup(circuit.compiled_path, d / "vk.key", d / "pk.key", srs_path)
        return ["vk.key", "pk.key"]
