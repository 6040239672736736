"""The circuit cache's size: seen (``zkimg cache``), bounded (``max_bytes``, ``$ZKIMG_CACHE_MAX``),
pruned least recently used first, cleared; unfinished builds of interrupted runs removed."""

import os
import time

import pytest

import zkimg
from zkimg import cli
from zkimg.hazmat.circuits import CircuitStore, cache_usage, parse_size


def _entry(path, size, age_s):
    """A fabricated cache entry of ``size`` bytes last used ``age_s`` seconds ago."""
    if path.suffix == ".srs":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"s" * size)
    else:
        path.mkdir(parents=True)
        (path / "pk.key").write_bytes(b"k" * size)
    then = time.time() - age_s
    os.utime(path, (then, then))
    return path


@pytest.fixture
def cache(tmp_path):
    c = tmp_path / "cache"
    old = _entry(c / "circuits" / "aaaa.keys-1111", 4000, 7200)
    new = _entry(c / "circuits" / "bbbb.keys-2222", 3000, 60)
    circuit = _entry(c / "circuits" / "aaaa", 1000, 5000)
    srs = _entry(c / "srs-development" / "kzg14.srs", 2000, 9000)
    stale = _entry(c / "circuits" / ".cccc-x1y2", 500, 7200)  # an interrupted build
    return c, {"old": old, "new": new, "circuit": circuit, "srs": srs, "stale": stale}


def test_usage_reports_every_kind(cache):
    c, _ = cache
    usage = cache_usage(c)
    assert usage.total_bytes == 10_500
    assert usage.by_kind() == {"keys": (2, 7000), "circuit": (1, 1000), "srs": (1, 2000), "build": (1, 500)}
    assert [e.path.name for e in usage.entries if e.stale] == [".cccc-x1y2"]
    assert cache_usage(c / "absent").total_bytes == 0


def test_prune_removes_least_recently_used_first_and_keeps_srs(cache):
    c, e = cache
    store = CircuitStore(c, max_bytes=None)
    freed = store.prune(6000)
    assert freed == 4500 and not e["old"].exists() and not e["stale"].exists()  # oldest keys and the stale build
    assert e["new"].exists() and e["circuit"].exists() and e["srs"].exists()
    assert store.prune(0) == 4000 and e["srs"].exists()  # SRS files only go with clear()
    assert store.usage().total_bytes == 2000


def test_prune_under_the_bound_still_removes_interrupted_builds(cache):
    c, e = cache
    assert CircuitStore(c, max_bytes=None).prune(10 ** 9) == 500 and not e["stale"].exists()
    fresh = _entry(c / "circuits" / ".dddd-now", 10, 5)  # a build in progress right now: left alone
    assert CircuitStore(c, max_bytes=None).prune(10 ** 9) == 0 and fresh.exists()


def test_a_build_is_abandoned_only_when_its_process_is_gone(cache):
    import subprocess
    import sys

    c, _ = cache
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()  # a process that has exited
    dead = _entry(c / "circuits" / f".ffff.keys-99-{gone}-abc123", 10, 5)
    alive = _entry(c / "circuits" / f".gggg-{os.getpid()}-abc123", 10, 3 * 3600)  # long, but still running
    stale = {e.path.name for e in cache_usage(c).entries if e.stale}
    assert dead.name in stale and alive.name not in stale
    CircuitStore(c, max_bytes=None).prune(0)
    assert not dead.exists() and alive.exists()


def test_automatic_bound_spares_entries_in_recent_use(cache):
    c, e = cache
    store = CircuitStore(c, max_bytes=0)
    assert store.prune(0, idle_s=3600) == 4000 + 1000 + 500  # only what was idle for an hour
    assert e["new"].exists() and not e["circuit"].exists()


def test_clear_removes_everything_of_zkimgs_and_nothing_else(cache):
    c, _ = cache
    (c / "timings.json").write_text("{}")
    (c / "holiday.jpg").write_bytes(b"not zkimg's")  # a mistyped --cache must not cost a user their files
    assert CircuitStore(c, max_bytes=None).clear() == 10_502
    assert [p.name for p in c.iterdir()] == ["holiday.jpg"]


def test_sizes_and_the_environment_bound(monkeypatch):
    assert [parse_size(s) for s in ("0", "500M", "20G", "1.5GiB", "2k", 7)] == [0, 500 * 2 ** 20, 20 * 2 ** 30,
                                                                             int(1.5 * 2 ** 30), 2048, 7]
    for bad in ("", "lots", "-1G", "5X", -3, True):
        with pytest.raises(zkimg.InvalidParameter):
            parse_size(bad)
    monkeypatch.setenv("ZKIMG_CACHE_MAX", "2G")
    assert CircuitStore("x").max_bytes == 2 * 2 ** 30 and CircuitStore("x", max_bytes=None).max_bytes is None
    monkeypatch.delenv("ZKIMG_CACHE_MAX")
    assert CircuitStore("x").max_bytes is None


def test_cache_command(cache, capsys):
    c, e = cache
    assert cli.main(["cache", "--cache", str(c)]) == 0
    out = capsys.readouterr().out
    assert str(c) in out and "keys" in out and "SRS files" in out and "zkimg cache prune" in out
    assert cli.main(["cache", "info", "--json", "--cache", str(c)]) == 0
    assert '"bytes": 10500' in capsys.readouterr().out
    assert cli.main(["cache", "prune", "--max-size", "6000", "--cache", str(c)]) == 0
    assert "freed" in capsys.readouterr().out and not e["old"].exists() and e["new"].exists()
    assert cli.main(["cache", "prune", "--cache", str(c)]) == cli.EXIT_INPUT  # no bound given
    assert "--max-size" in capsys.readouterr().err
    assert cli.main(["cache", "clear", "--cache", str(c)]) == 0 and cache_usage(c).total_bytes == 0


@pytest.mark.slow
def test_a_bounded_store_prunes_after_building(tmp_path):
    c = tmp_path / "cache"
    old = _entry(c / "circuits" / "eeee.keys-3333", 50_000, 7200)
    store = CircuitStore(c, max_bytes=1)
    circuit = store.circuit(zkimg.hazmat.TileJob(zkimg.Pipeline([zkimg.Grayscale()]), (4, 4, 3)))
    assert not old.exists() and circuit.directory.exists()  # the new entry is in use: kept
