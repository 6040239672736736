"""The public record of one proved tile job (:class:`TileProof`) and its JSON wire format."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, Optional

from .._codec import felt_from_hex, felt_to_hex, parse_json
from .._validate import check_hex64
from ..errors import InvalidBundle
from ..limits import MAX_PROOF_BYTES
from .lowering import TileJob

TILE_PROOF_SCHEMA = "zkimg.tile-proof/1"


@dataclass(frozen=True)
class TileProof:
    """The public record of one proved tile job. Holds no pixels, salts or output instances."""

    job: TileJob
    input_commitment: int
    output_commitment: Optional[int]  # only for a hidden output; a public one is recomputed
    srs_digest: str
    development_srs: bool
    proof: bytes

    def to_json(self) -> Dict[str, Any]:
        return {
            "schema": TILE_PROOF_SCHEMA,
            "job": self.job.to_json(),
            "input_commitment": felt_to_hex(self.input_commitment),
            "output_commitment": None if self.output_commitment is None else felt_to_hex(self.output_commitment),
            "srs_digest": self.srs_digest,
            "development_srs": self.development_srs,
            "proof": self.proof.hex(),
        }

    @classmethod
    def from_json(cls, data: Any) -> "TileProof":
        """Strictly parse :meth:`to_json` output; anything else raises InvalidBundle."""
        keys = {"schema", "job", "input_commitment", "output_commitment", "srs_digest", "development_srs", "proof"}
        if not isinstance(data, dict) or set(data) != keys:
            raise InvalidBundle(f"a tile proof is an object with exactly the keys {sorted(keys)}")
        if data["schema"] != TILE_PROOF_SCHEMA:
            raise InvalidBundle(f"unsupported tile proof schema {data['schema']!r}")
        job = TileJob.from_json(data["job"])
        c_in = felt_from_hex(data["input_commitment"], "input_commitment", InvalidBundle)
        c_out = (None if data["output_commitment"] is None
                 else felt_from_hex(data["output_commitment"], "output_commitment", InvalidBundle))
        if (c_out is not None) != job.hidden_output:
            raise InvalidBundle("output_commitment is present exactly when the output is hidden")
        srs = check_hex64(data["srs_digest"], "srs_digest", InvalidBundle)
        if not isinstance(data["development_srs"], bool):
            raise InvalidBundle("development_srs must be a boolean")
        p = data["proof"]
        if not isinstance(p, str) or not 0 < len(p) <= 2 * MAX_PROOF_BYTES or len(p) % 2:
            raise InvalidBundle("proof must be a non-empty even-length hex string of bounded size")
        try:
            proof = bytes.fromhex(p)
        except ValueError as e:
            raise InvalidBundle("proof is not hexadecimal") from e
        return cls(job, c_in, c_out, srs, data["development_srs"], proof)

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True)

    @classmethod
    def loads(cls, text: str | bytes) -> "TileProof":
        return cls.from_json(parse_json(text, 4 * MAX_PROOF_BYTES, "tile proof", InvalidBundle))
