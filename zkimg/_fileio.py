"""Files, safely. Writing: atomically (no partial file is ever visible under the final name)
and, for secrets, owner-only (mode 0600 from creation, whatever file was there before).
Reading untrusted input: regular files only, never past a bound (:func:`read_bounded`)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO, Callable, List, Optional, Sequence, Tuple

from .errors import InvalidParameter


def check_output(path: "str | Path", what: str, *, force: bool = False) -> Path:
    """Refuse, before any work, an output ``path`` that could not be written: its folder must
    exist and be writable, and ``path`` must not be a folder, nor (unless ``force``) a file
    that exists. Raises :class:`~zkimg.errors.InvalidParameter` naming ``what``."""
    p = Path(path)
    folder = p.parent
    if not folder.is_dir():
        raise InvalidParameter(what, f"cannot write {p}: folder {folder} does not exist (create it first)")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InvalidParameter(what, f"cannot write {p}: folder {folder} is not writable")
    if p.is_dir():
        raise InvalidParameter(what, f"cannot write {p}: it is a folder")
    if p.exists() and not force:
        raise InvalidParameter(what, f"{p} exists; pass --force to overwrite it")
    return p


def write_files(files: "Sequence[Tuple[str | Path, bytes, bool]]") -> None:
    """Write every ``(path, data, private)`` or none.

    Each file goes to a temporary file beside its path first; only when all are written are
    they renamed into place, in order. If a rename fails (or the process is interrupted) the
    files already renamed are rolled back: a file they replaced is restored, a new one
    removed. ``private`` files are created owner-only (0600) from the start. An error names
    the final path, never a temporary one.
    """
    temps: List[Tuple[Path, Path]] = []
    placed: List[Tuple[Path, Optional[Path]]] = []  # (path, backup of the file it replaced)
    try:
        for path, data, private in files:
            p = Path(path)
            tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
            try:
                tmp.unlink(missing_ok=True)  # a leftover of a killed run: never reuse its mode
                fd = os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o666)
                temps.append((tmp, p))
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
            except OSError as e:
                raise OSError(e.errno, f"cannot write {p}: {e.strerror or e}") from e
        for tmp, p in temps:
            backup = _backup(p)
            try:
                os.replace(tmp, p)
            except OSError as e:
                if backup is not None:
                    backup.unlink()
                raise OSError(e.errno, f"cannot write {p}: {e.strerror or e}") from e
            placed.append((p, backup))
    except BaseException:
        for p, backup in reversed(placed):
            if backup is not None:
                os.replace(backup, p)
            else:
                p.unlink(missing_ok=True)
        placed = []
        raise
    finally:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)
        for _, backup in placed:
            if backup is not None:
                backup.unlink(missing_ok=True)


def _backup(path: Path) -> Optional[Path]:
    """A hard link to the file at ``path`` (for a rollback), or ``None`` if there is none."""
    if not path.is_file():
        return None
    backup = path.with_name(f".{path.name}.{os.getpid()}.bak")
    backup.unlink(missing_ok=True)
    try:
        os.link(path, backup)
    except OSError:  # a file system without hard links: no rollback for this one
        return None
    return backup


def write_atomic(path: "str | Path", data: bytes, private: bool = False) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it over ``path``.

    With ``private`` the file is created with mode 0600, so the data is never readable by
    others, not even for a moment, and an existing file's looser mode is not inherited.
    """
    write_files([(path, data, private)])


def write_private(path: "str | Path", data: bytes) -> None:
    """Write a secret (key, salts, pixels) owner-only (0600), atomically."""
    write_atomic(path, data, private=True)


def open_regular(path: "str | Path", what: str, error: Callable[[str], Exception]) -> BinaryIO:
    """Open ``path`` for reading if it is a regular file (not a FIFO, device, socket or folder,
    which may block or never end); anything else raises ``error``. Opening never blocks.
    Read from the handle it returns: checking a path and opening it again would let the file
    be swapped in between."""
    try:
        fd = os.open(str(path), os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError as e:
        raise error(f"no such {what} file: {path}") from e
    except (OSError, ValueError) as e:
        raise error(f"cannot read {what} {path}: {getattr(e, 'strerror', None) or e}") from e
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise error(f"{what} {path} is not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def check_regular(path: "str | Path", what: str, error: Callable[[str], Exception]) -> None:
    """Raise ``error`` unless ``path`` is a readable regular file (for readers that only take a
    path; others read from :func:`open_regular`'s handle)."""
    open_regular(path, what, error).close()


def read_bounded(path: "str | Path", max_bytes: int, what: str,
                 error: Callable[[str], Exception]) -> bytes:
    """The bytes of the regular file ``path``, refused with ``error`` (naming ``what``) when
    larger than ``max_bytes``, unreadable, or not a regular file; never reads past the bound."""
    with open_regular(path, what, error) as f:
        try:
            if os.fstat(f.fileno()).st_size > max_bytes:
                raise error(f"{what} {path} is larger than {max_bytes} bytes")
            data = f.read(max_bytes + 1)
        except OSError as e:
            raise error(f"cannot read {what} {path}: {e.strerror or e}") from e
    if len(data) > max_bytes:  # the file grew while it was read
        raise error(f"{what} {path} is larger than {max_bytes} bytes")
    return data
