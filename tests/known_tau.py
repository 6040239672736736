"""An SRS whose trapdoor ``τ`` the test chose: the negative control of the KZG scheme's
binding argument (DESIGN.md: with a known ``τ``, a one-value forgery passes both ezkl and the
link). Written in halo2's raw format, which ezkl 23.0.5 reads: ``k`` (4 bytes, little-endian),
``2^k`` points ``τ^i·G1``, ``2^k`` Lagrange points ``L_i(τ)·G1``, then ``G2`` and ``τ·G2``
(coordinates little-endian in Montgomery form; a G2 coordinate is ``c0 ‖ c1`` in
``F_q[u]/(u² + 1)``). ``G2`` is copied from an SRS ezkl generated. The domain's root of unity
is ``7^((r − 1)/2^28)`` squared down to ``2^k`` (halo2's, checked against ezkl's SRS files)."""

from pathlib import Path

from zkimg.hazmat import bn254

Q, R = bn254.Q, bn254.R
_MONT = 2 ** 256


def _mont(x: int) -> bytes:
    return (x * _MONT % Q).to_bytes(32, "little")


def _unmont(b: bytes) -> int:
    return int.from_bytes(b, "little") * pow(_MONT, -1, Q) % Q


# F_q2 = F_q[u] / (u² + 1), elements (c0, c1)
def _f2_add(a, b):
    return ((a[0] + b[0]) % Q, (a[1] + b[1]) % Q)


def _f2_sub(a, b):
    return ((a[0] - b[0]) % Q, (a[1] - b[1]) % Q)


def _f2_mul(a, b):
    return ((a[0] * b[0] - a[1] * b[1]) % Q, (a[0] * b[1] + a[1] * b[0]) % Q)


def _f2_inv(a):
    d = pow((a[0] * a[0] + a[1] * a[1]) % Q, -1, Q)
    return (a[0] * d % Q, -a[1] * d % Q)


def _g2_add(p, q):
    if p is None:
        return q
    if q is None:
        return p
    if p[0] == q[0]:
        if _f2_add(p[1], q[1]) == (0, 0):
            return None
        lam = _f2_mul(_f2_mul((3, 0), _f2_mul(p[0], p[0])), _f2_inv(_f2_mul((2, 0), p[1])))
    else:
        lam = _f2_mul(_f2_sub(q[1], p[1]), _f2_inv(_f2_sub(q[0], p[0])))
    x3 = _f2_sub(_f2_sub(_f2_mul(lam, lam), p[0]), q[0])
    return (x3, _f2_sub(_f2_mul(lam, _f2_sub(p[0], x3)), p[1]))


def _g2_mul(k, p):
    acc = None
    while k:
        if k & 1:
            acc = _g2_add(acc, p)
        p = _g2_add(p, p)
        k >>= 1
    return acc


def omega(logrows: int) -> int:
    return pow(pow(7, (R - 1) >> 28, R), 2 ** (28 - logrows), R)


def lagrange_at(tau: int, logrows: int):
    """``L_i(τ)`` for every row ``i`` of the ``2^logrows`` domain."""
    n, w = 2 ** logrows, omega(logrows)
    zn = (pow(tau, n, R) - 1) * pow(n, -1, R) % R
    out, wi = [], 1
    for _ in range(n):
        out.append(wi * zn * pow((tau - wi) % R, -1, R) % R)
        wi = wi * w % R
    return out


def write_known_tau_srs(path: Path, logrows: int, tau: int, template: Path) -> None:
    """Write an SRS for ``logrows`` with trapdoor ``tau`` (G2 taken from ``template``)."""
    n = 2 ** logrows
    raw = Path(template).read_bytes()
    g2_at = 4 + 2 * 64 * 2 ** int.from_bytes(raw[:4], "little")
    g2_raw = raw[g2_at:g2_at + 128]
    g2 = ((_unmont(g2_raw[0:32]), _unmont(g2_raw[32:64])), (_unmont(g2_raw[64:96]), _unmont(g2_raw[96:128])))
    s_g2 = _g2_mul(tau, g2)
    out = bytearray(logrows.to_bytes(4, "little"))
    gen = (1, 2)
    for scalars in ([pow(tau, i, R) for i in range(n)], lagrange_at(tau, logrows)):
        for s in scalars:
            x, y = bn254.mul(s, gen)
            out += _mont(x) + _mont(y)
    out += g2_raw
    out += _mont(s_g2[0][0]) + _mont(s_g2[0][1]) + _mont(s_g2[1][0]) + _mont(s_g2[1][1])
    Path(path).write_bytes(bytes(out))
