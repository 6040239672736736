"""``zkimg.estimate`` and ``zkimg prove --dry-run``: the plan exactly, the costs from rates this
machine measured (reference rates before its first prove), a resumed run's reuse counted; and
what a real ``prove`` prints before and after its work."""

import pytest
from helpers import photo_tile

import zkimg
from zkimg import cli, costs

PHOTO = photo_tile("coffee", 100, 200, 14, 21)  # odd size, real photo
PIPE = zkimg.Pipeline([zkimg.Grayscale(), zkimg.Contrast(1.5)])


@pytest.fixture(scope="module")
def capture():
    return zkimg.Camera.generate().capture(PHOTO, tile=8)


def test_estimate_then_prove(capture, tmp_path):
    store = zkimg.CircuitStore(tmp_path / "cache")  # a cache with nothing measured yet
    before = zkimg.estimate(capture, PIPE, store=store)
    assert not before.measured and before.reused == 0 and before.setup_s > 0
    assert not any(c.keyed for c in before.circuits)
    assert all(c.rows <= 2 ** c.logrows for c in before.circuits)
    assert "reference rates" in before.lines()[-1]
    att = zkimg.prove(capture, PIPE, store=store, workdir=tmp_path / "work")
    plan_jobs = len(att.proofs)
    assert before.jobs == plan_jobs and sum(c.jobs for c in before.circuits) == plan_jobs
    assert len(before.circuits) == len({c.digest for c in before.circuits})
    after = zkimg.estimate(capture, PIPE, store=store)
    assert after.measured and after.setup_s == 0 and all(c.keyed for c in after.circuits)
    assert "measured on this machine at 2^" in after.lines()[-1] and after.measured_at
    actual = len(att.dumps(compress=True))
    assert abs(after.bundle_bytes - actual) < 0.1 * actual, (after.bundle_bytes, actual)  # proof sizes measured
    t = store.timings()
    assert t.prove_s_per_row and t.setup_s_per_row and t.rss_bytes_per_row and t.prove_workers
    resumed = zkimg.estimate(capture, PIPE, store=store, workdir=tmp_path / "work")
    assert resumed.reused == plan_jobs and resumed.prove_s == 0 and "already proved" in resumed.lines()[0]
    assert zkimg.estimate(capture.signed, PIPE, store=store, workers=1).prove_s == pytest.approx(
        after.prove_s * after.workers)  # the public record suffices; time scales with workers


def test_estimate_refuses_bad_arguments(capture):
    with pytest.raises(zkimg.InvalidParameter):
        zkimg.estimate(PHOTO, PIPE)
    with pytest.raises(zkimg.InvalidParameter):
        zkimg.estimate(capture, PIPE, workers=0)


def test_bad_timing_notes_only_lose_the_measurements(tmp_path):
    store = zkimg.CircuitStore(tmp_path)
    (tmp_path / "timings.json").write_text('{"prove_s_per_row": {"15": "fast", "x": 1}, "proof_bytes": {"x": -1}, '
                                           '"setup_s_per_row": {"14": 1e-4, "99": 1.0}, "prove_workers": true}')
    t = store.timings()
    assert t.prove_s_per_row == {} and t.proof_bytes == {} and t.setup_s_per_row == {14: 1e-4}
    assert t.prove_workers is None
    (tmp_path / "timings.json").write_text("[not json")
    assert store.timings() == type(t)()


def test_rates_are_kept_per_size_and_the_nearest_size_stands_in(tmp_path):
    store = zkimg.CircuitStore(tmp_path)
    store.record_timings(prove_s_per_row={13: 3e-4}, prove_workers=2)
    store.record_timings(prove_s_per_row={16: 2e-4}, setup_s_per_row={16: 1e-4})  # merged, not replaced
    t = store.timings()
    assert t.prove_s_per_row == {13: 3e-4, 16: 2e-4} and t.prove_workers == 2
    assert [t.rate(t.prove_s_per_row, k) for k in (12, 14, 15, 17)] == [3e-4, 3e-4, 2e-4, 2e-4]
    assert t.rate(t.rss_bytes_per_row, 16) is None


def test_cli_dry_run_then_prove_and_resume(capture, tmp_path, capsys, monkeypatch):
    capture.signed.save(tmp_path / "c.capture.json")
    capture.secrets.save(tmp_path / "c.secrets.npz")
    cache = ["--cache", str(tmp_path / "cache")]
    code = cli.main(["prove", "--dry-run", "--capture", str(tmp_path / "c.capture.json"), "--grayscale",
                     "--contrast", "1.5", *cache])
    out = capsys.readouterr().out
    assert code == 0 and "tile jobs" in out and "circuits" in out and "2^" in out and "dry run" in out
    assert "~" in out and "GiB peak" in out and not list(tmp_path.glob("*.zkimg"))
    assert not zkimg.CircuitStore(tmp_path / "cache").usage().by_kind().get("keys")  # nothing keyed
    prove = ["prove", "--capture", str(tmp_path / "c.capture.json"), "--secrets", str(tmp_path / "c.secrets.npz"),
             "--grayscale", "--contrast", "1.5", "--workdir", str(tmp_path / "w"), *cache]
    monkeypatch.setattr(costs, "LONG_RUN_S", 0.0)  # every run is "long" now
    assert cli.main([*prove, "-o", str(tmp_path / "a.zkimg")]) == 0
    out, err = capsys.readouterr()
    assert err.index("tile jobs") < err.index("WARNING") < err.index("prove tiles")  # the estimate comes first
    assert "resumed" not in out
    assert cli.main([*prove, "-o", str(tmp_path / "b.zkimg")]) == 0
    out, err = capsys.readouterr()
    jobs = len(zkimg.Attestation.load(tmp_path / "a.zkimg").proofs)
    assert f"resumed      {jobs} of {jobs} tile proofs reused from" in out
    assert "already proved in the work folder" in err
