"""The test-suite's markers (tests/README.md says which to give a test), and
the guard that keeps them true: a test that does the marked kind of work
without the marker fails, so the quick loop stays quick."""

import pytest

MARKERS = {
    "aoti": "compiles .pt2 packages with AOTInductor (20-60 s each)",
    "native": "builds C or C++ programs against the installed package (CMake, LibTorch headers)",
    "serving": "runs a serving engine's package (Triton's config tools, Ray Serve)",
    "slow": "takes more than about 10 s for other reasons (fresh venvs, pip, subprocess sweeps)",
}

# The test running now (conftest.py sets it around each test's set-up, call and tear-down).
current_item = None


def require(marker: str, work: str) -> None:
    """Fails the running test unless it carries `marker`: it does `work`."""
    item = current_item
    if item is not None and item.get_closest_marker(marker) is None:
        pytest.fail(f"{item.nodeid} {work} but is not marked {marker} (tests/README.md)", pytrace=False)
