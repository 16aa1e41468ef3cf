"""Figures. The only module that imports matplotlib; it never runs a simulation."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

if os.environ.get("MPLBACKEND") is None and not os.environ.get("DISPLAY"):
    matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ._io import atomic_path  # noqa: E402


def attractor(
    states: np.ndarray,
    *,
    dims: tuple[int, int] = (0, 1),
    ax: Axes | None = None,
    labels: tuple[str, str] | None = None,
    title: str | None = None,
) -> Axes:
    """Draw a state trajectory in the plane of two coordinates, as points.

    A one-dimensional state is drawn as its return map x_{t+1} against x_t.
    Non-finite points are left out of the picture (count them before calling).

    Args:
        states: States after burn-in, shape `(t, n)`.
        dims: The two coordinates to draw. (Keyword only.)
        ax: Axes to draw into; a new figure if None. (Keyword only.)
        labels: Axis labels. (Keyword only.)
        title: Axes title. (Keyword only.)

    Returns:
        The Axes.
    """
    states = np.asarray(states, dtype=float)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5), layout="constrained")
    if states.shape[1] == 1:
        x, y = states[:-1, 0], states[1:, 0]
        labels = labels or ("$x_t$", "$x_{t+1}$")
    else:
        x, y = states[:, dims[0]], states[:, dims[1]]
        labels = labels or (f"$x_{{{dims[0] + 1}}}$", f"$x_{{{dims[1] + 1}}}$")
    ax.scatter(x, y, s=0.5, c="k", alpha=0.6, linewidths=0, rasterized=True)
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    if title:
        ax.set_title(title)
    return ax


def save_figure(fig: Figure, path: str | os.PathLike[str], *, dpi: int = 150) -> Path:
    """Save ``fig`` as PNG atomically and close it."""
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi)
    finally:
        plt.close(fig)
    return Path(path)
