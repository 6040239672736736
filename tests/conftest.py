import os
import warnings

import pytest
from hypothesis import settings

import zkimg

# "ci" (default): a few hundred fuzz cases in all; "fuzz": 10,000 per property (tests/README.md).
settings.register_profile("ci", max_examples=60, deadline=None, derandomize=False)
settings.register_profile("fuzz", max_examples=10_000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session", autouse=True)
def session_cache(tmp_path_factory, pytestconfig):
    """Every cache the tests touch, the default one of a CLI call or subprocess included, is
    ``$ZKIMG_CACHE``: set by tests/mutants.py to reuse keys across runs, else a temporary folder
    that pytest deletes with the rest of the run's files (``tmp_path_retention_policy`` keeps
    only failed tests' folders), so a test run leaves nothing behind."""
    pytestconfig.zkimg_cache_preset = bool(os.environ.get("ZKIMG_CACHE"))
    if not pytestconfig.zkimg_cache_preset:
        os.environ["ZKIMG_CACHE"] = str(tmp_path_factory.mktemp("zkimg-cache"))
    return os.environ["ZKIMG_CACHE"]


@pytest.fixture(scope="session")
def store(session_cache):
    """One circuit cache (and development SRS) for the whole session: :func:`session_cache`."""
    return zkimg.CircuitStore(session_cache)


@pytest.fixture(scope="session")
def camera():
    """One camera signing key for the session's captures (tests that need another make it)."""
    return zkimg.Camera.generate()


def pytest_configure(config):
    warnings.filterwarnings("ignore", category=zkimg.DevelopmentSRSWarning)


#: Fixtures that make real proofs (keys and a proof or a bundle), or the circuit store that
#: compiles and keys circuits; a test using one is slow.
SLOW_FIXTURES = {"store", "attested", "small", "chain", "session", "bundle", "genuine", "made", "proved", "redacted"}
#: Modules whose tests all compile circuits or prove.
SLOW_MODULES = {"test_costs", "test_attest", "test_proofs", "test_faults", "test_dask", "test_notebooks", "test_exactness"}


def pytest_collection_modifyitems(config, items):
    """Mark proving tests ``slow`` (tests that compile or prove in a subprocess are marked by
    hand) and run every fast test first: a fast stage, then the slow one, in one
    ``python -m pytest``; ``-m "not slow"`` runs the fast stage alone."""
    for item in items:
        if item.module.__name__ in SLOW_MODULES or SLOW_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.slow)
    items.sort(key=lambda item: item.get_closest_marker("slow") is not None)  # stable: file order kept
