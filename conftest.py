"""Test tiers for the whole tree: which notebook runs are `slow`.

`make test` runs everything not marked ``slow``; `make test-slow` runs the
rest. Tests in tests/ carry the marker themselves; the notebooks executed by
nbmake cannot, so their items are marked here by file name.
"""

import pytest

# Notebooks whose run takes minutes (training, Theorem 1 measurements), or
# close to a minute (01's benchmarks, 02's landscapes, 04's attractor tools):
# the slow tier executes them, so that make test stays under its 15 minutes.
SLOW_NOTEBOOKS = {
    "01_forward_vs_reverse.ipynb",
    "03_smoothness.ipynb",
    "04_attractors.ipynb",
    "02_loss_landscape.ipynb",
    "05_training_attractors.ipynb",
    "06_language_model.ipynb",
}


def pytest_collection_modifyitems(items):
    """Mark the nbmake items of SLOW_NOTEBOOKS as slow."""
    for item in items:
        if item.path.suffix == ".ipynb" and item.path.name in SLOW_NOTEBOOKS:
            item.add_marker(pytest.mark.slow)
