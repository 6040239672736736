"""Writing files safely: atomically (no partial file is ever visible under the final name)
and, for secrets, owner-only (mode 0600 from creation, whatever file was there before)."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: "str | Path", data: bytes, private: bool = False) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it over ``path``.

    With ``private`` the file is created with mode 0600, so the data is never readable by
    others, not even for a moment, and an existing file's looser mode is not inherited.
    """
    p = Path(path)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    fd = os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        if private:
            os.chmod(tmp, 0o600)
        os.replace(tmp, p)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise


def write_private(path: "str | Path", data: bytes) -> None:
    """Write a secret (key, salts, pixels) owner-only (0600), atomically."""
    write_atomic(path, data, private=True)
