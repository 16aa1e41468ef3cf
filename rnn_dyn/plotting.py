"""Figures. The only module that imports matplotlib; it never runs a simulation."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

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
    color: np.ndarray | None = None,
    color_label: str | None = None,
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
        color: A value per state, e.g. the local expansion rate, drawn on a
            diverging colour scale centred on 0; black if None. (Keyword only.)
        color_label: Colour bar label. (Keyword only.)

    Returns:
        The Axes.
    """
    from matplotlib import colors

    states = np.asarray(states, dtype=float)
    if ax is None:
        _, ax = plt.subplots(
            figsize=(5.5 if color is not None else 5, 5), layout="constrained"
        )
    if states.shape[1] == 1:
        x, y = states[:-1, 0], states[1:, 0]
        labels = labels or ("$x_t$", "$x_{t+1}$")
        color = None if color is None else np.asarray(color)[:-1]
    else:
        x, y = states[:, dims[0]], states[:, dims[1]]
        labels = labels or (f"$x_{{{dims[0] + 1}}}$", f"$x_{{{dims[1] + 1}}}$")
    style: dict[str, Any] = {"s": 0.5 if color is None else 1.5, "alpha": 0.6}
    style["linewidths"] = 0
    if color is None:
        ax.scatter(x, y, c="k", rasterized=True, **style)
    else:
        c = np.asarray(color, float)
        top = float(np.nanmax(np.abs(c[np.isfinite(c)]), initial=1e-12))
        norm = colors.TwoSlopeNorm(0.0, -top, top)
        points = ax.scatter(
            x, y, c=c, cmap="coolwarm", norm=norm, rasterized=True, **style
        )
        ax.figure.colorbar(points, ax=ax, label=color_label)
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    if title:
        ax.set_title(title)
    return ax


def _positive_span(values: np.ndarray) -> tuple[np.ndarray, bool]:
    """Return the finite positive values, and whether they span over 3 decades."""
    positive = values[np.isfinite(values) & (values > 0)]
    return positive, bool(positive.size and positive.max() / positive.min() > 1e3)


def _suptitle_left_out(fig: Figure, title: str | None, values: np.ndarray) -> None:
    """Set the figure title, with the count of non-finite values left out."""
    n_bad = int((~np.isfinite(values)).sum())
    suffix = f"  ({n_bad} non-finite values left out)" if n_bad else ""
    fig.suptitle((title or "") + suffix)


def save_figure(fig: Figure, path: str | os.PathLike[str], *, dpi: int = 150) -> Path:
    """Save ``fig`` as PNG atomically (making its directory) and close it."""
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi)
    finally:
        plt.close(fig)
    return Path(path)


def loss_line(
    s: np.ndarray,
    loss: np.ndarray,
    steady: np.ndarray | None = None,
    *,
    output_index: int = 0,
    true_s: float | None = 1.0,
    title: str | None = None,
) -> Figure:
    """Draw the loss along a line, under the bifurcation diagram of one output.

    Args:
        s: Coordinates, shape `(n,)`.
        loss: Loss at each coordinate, shape `(n,)`; non-finite values are left
            as gaps.
        steady: Steady-state outputs, shape `(n, K, p)`; when given, the top
            panel shows the K values of output ``output_index`` at each s.
        output_index: Which output to draw. (Keyword only.)
        true_s: Coordinate of the true parameters, marked in both panels.
            (Keyword only.)
        title: Figure title. (Keyword only.)

    Returns:
        The Figure (two stacked panels sharing s, or one without ``steady``).
    """
    s, loss = np.asarray(s, float), np.asarray(loss, float)
    rows = 1 if steady is None else 2
    fig, axes = plt.subplots(
        rows, 1, sharex=True, figsize=(7, 2.6 * rows + 0.6), layout="constrained"
    )
    axes = np.atleast_1d(axes)
    if steady is not None:
        ax = axes[0]
        values = np.asarray(steady, float)[:, :, output_index]
        xs = np.repeat(s, values.shape[1])
        ax.scatter(xs, values.ravel(), s=0.2, c="k", linewidths=0, rasterized=True)
        ax.set_ylabel(f"steady output $y_{{{output_index + 1}}}$")
    ax = axes[-1]
    ax.plot(s, np.where(np.isfinite(loss), loss, np.nan), lw=0.6, c="C0")
    ax.set_ylabel("loss $V$")
    ax.set_xlabel("$s$")
    positive, wide = _positive_span(loss)
    if wide:
        ax.set_yscale("symlog", linthresh=float(np.percentile(positive, 5)))
    if true_s is not None:
        for a in axes:
            a.axvline(true_s, c="C3", lw=0.8, ls="--")
        at = np.flatnonzero(s == true_s)
        if at.size:
            ax.plot(s[at], loss[at], "o", c="C3", ms=4, label=r"$\theta_{true}$")
            ax.legend(loc="upper left")
    if title:
        fig.suptitle(title)
    return fig


def loss_plane(
    s1: np.ndarray,
    s2: np.ndarray,
    loss: np.ndarray,
    *,
    marks: dict[str, tuple[float, float]] | None = None,
    log: bool | None = None,
    levels: int = 60,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Draw filled contours of the loss over a plane (Supplementary Fig. 1).

    Non-finite values are masked (drawn blank) and counted in the title.

    Args:
        s1: First coordinates, shape `(n1,)` (horizontal axis).
        s2: Second coordinates, shape `(n2,)` (vertical axis).
        loss: Loss, shape `(n1, n2)`.
        marks: Named points to mark, e.g. ``{"θ_true": (1, 0)}``. (Keyword only.)
        log: Log colour scale; by default when the positive values span more
            than three decades. (Keyword only.)
        levels: Number of contour levels. (Keyword only.)
        ax: Axes to draw into; a new figure if None. (Keyword only.)
        title: Axes title. (Keyword only.)

    Returns:
        The Axes.
    """
    from matplotlib import colors, ticker

    loss = np.asarray(loss, float)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 5), layout="constrained")
    finite = np.isfinite(loss)
    positive, wide = _positive_span(loss)
    if log is None:
        log = wide
    values = np.ma.masked_invalid(loss)
    kwargs: dict[str, Any] = {"levels": levels, "cmap": "viridis"}
    if log and positive.size:
        floor = positive.min()
        values = np.ma.masked_invalid(np.where(finite, np.maximum(loss, floor), np.nan))
        kwargs["levels"] = np.geomspace(floor, positive.max(), levels)
        kwargs["norm"] = colors.LogNorm(floor, positive.max())
        kwargs["locator"] = ticker.LogLocator()
    cs = ax.contourf(np.asarray(s1), np.asarray(s2), values.T, **kwargs)
    ax.figure.colorbar(cs, ax=ax, label="loss $V$")
    for name, (x, y) in (marks or {}).items():
        ax.plot(x, y, "o", mfc="none", mec="C3", ms=7)
        ax.annotate(name, (x, y), xytext=(4, 4), textcoords="offset points", color="C3")
    ax.set_xlabel("$s_1$")
    ax.set_ylabel("$s_2$")
    n_bad = int((~finite).sum())
    ax.set_title((title or "") + (f"  ({n_bad} non-finite masked)" if n_bad else ""))
    return ax


def smoothness_curves(
    lengths: np.ndarray,
    measured: dict[str, np.ndarray],
    bounds: dict[str, np.ndarray],
    *,
    title: str | None = None,
) -> Figure:
    """Draw measured Lipschitz constants of V and ∇V against N, with the bounds.

    Values are drawn as log₁₀ on a linear axis: exponential bounds reach
    1e300, past what matplotlib's log axis can tick. Non-finite values
    (overflow) are left out.

    Args:
        lengths: Sequence lengths N, shape `(k,)`.
        measured: ``{"L_V": ..., "L_V_grad": ...}``, each shape `(k,)`.
        bounds: The Theorem 1 bounds at the same N, same keys.
        title: Figure title. (Keyword only.)

    Returns:
        The Figure, one panel per quantity.
    """
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    names = {
        "L_V": "Lipschitz constant of $V$",
        "L_V_grad": r"Lipschitz constant of $\nabla V$",
    }
    n = np.asarray(lengths, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        for ax, key in zip(axes, ("L_V", "L_V_grad"), strict=True):
            m = np.log10(np.asarray(measured[key], float))
            b = np.log10(np.asarray(bounds[key], float))
            if np.isfinite(b).any():
                ok = np.isfinite(b)
                ax.plot(n[ok], b[ok], "-", c="C3", label="Theorem 1 bound")
            ok = np.isfinite(m)
            ax.plot(n[ok], m[ok], "o-", c="C0", label="measured (max over samples)")
            ax.set_xscale("log")
            ax.set_xlabel("sequence length $N$")
            ax.set_ylabel(r"$\log_{10}$")
            ax.set_title(names[key])
            ax.legend(loc="upper left", fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def mark_cycles(
    ax: Axes,
    points: np.ndarray,
    stability: tuple[str, ...],
    *,
    dims: tuple[int, int] = (0, 1),
) -> Axes:
    """Mark fixed points and cycles on an `attractor` plot.

    Stable points are filled, the others hollow; a cycle's points are joined
    in orbit order. A one-dimensional state is marked on the return map.

    Args:
        ax: Axes drawn by `attractor`.
        points: Cycles, shape `(c, k, n)`, as in `rnn_dyn.FixedPoints`.
        stability: One label per cycle.
        dims: The two coordinates drawn. (Keyword only.)

    Returns:
        The Axes.
    """
    points = np.asarray(points, float)
    for cycle, label in zip(points, stability, strict=True):
        if cycle.shape[1] == 1:  # on the return map (x_t, x_{t+1})
            x, y = cycle[:, 0], np.roll(cycle[:, 0], -1)
        else:
            x, y = cycle[:, dims[0]], cycle[:, dims[1]]
        face = "C3" if label == "stable" else "none"
        ax.plot(np.append(x, x[0]), np.append(y, y[0]), "-", c="C3", lw=0.6)
        ax.plot(x, y, "o", mfc=face, mec="C3", ms=6, label=label)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    if unique:
        ax.legend(unique.values(), unique.keys(), fontsize=8, loc="best")
    return ax


def lyapunov_convergence(
    history: np.ndarray, *, title: str | None = None, ax: Axes | None = None
) -> Axes:
    """Draw the running estimates of the Lyapunov exponents against the step.

    Args:
        history: Running estimates, shape `(t, k)`
            (`rnn_dyn.LyapunovSpectrum.history`).
        title: Axes title. (Keyword only.)
        ax: Axes to draw into; a new figure if None. (Keyword only.)

    Returns:
        The Axes.
    """
    history = np.asarray(history, float)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
    steps = np.arange(1, history.shape[0] + 1)
    for i in range(history.shape[1]):
        ax.plot(steps, history[:, i], lw=1, label=rf"$\lambda_{{{i + 1}}}$")
    ax.axhline(0, c="k", lw=0.5)
    if np.isfinite(history).any():
        ax.set_xscale("log")
    else:  # a diverged orbit: say so rather than fail on an empty log axis
        ax.text(
            0.5,
            0.5,
            "no finite estimate (the orbit diverged)",
            transform=ax.transAxes,
            ha="center",
        )
    ax.set_xlabel("steps averaged")
    ax.set_ylabel("exponent (nats / step)")
    ax.legend(fontsize=8, ncol=max(1, history.shape[1] // 8))
    if title:
        ax.set_title(title)
    return ax


def entropy_curves(
    entropy: np.ndarray,
    bound: np.ndarray,
    log_det_mean: np.ndarray,
    *,
    violations: np.ndarray | None = None,
    title: str | None = None,
) -> Figure:
    """Draw the ensemble entropy H_t with the per-step bound of Theorem 2.

    Left: H_t measured, with H_t + E[log|det A_t|] (what the proof says
    H_{t+1} equals) and the bound H_t + n log L_f, both drawn at t + 1.
    Right: the increments H_{t+1} − H_t against E[log|det A_t|] and
    n log L_f. Non-finite values are left out.

    Args:
        entropy: H_0..H_T, shape `(T+1,)`.
        bound: H_t + n log L_t, shape `(T,)`.
        log_det_mean: E[log|det A_t|], shape `(T,)`.
        violations: Steps t where H_{t+1} exceeds the bound. (Keyword only.)
        title: Figure title. (Keyword only.)

    Returns:
        The Figure.
    """
    h = np.asarray(entropy, float)
    b = np.asarray(bound, float)
    d = np.asarray(log_det_mean, float)
    t = np.arange(h.size)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    left.plot(t, h, "o-", ms=3, c="C0", label="$H_t$ (Kozachenko–Leonenko)")
    left.plot(t[1:], h[:-1] + d, "--", c="C2", label=r"$H_t + E\,\log|\det A_t|$")
    left.plot(t[1:], b, "-", c="C3", label=r"bound $H_t + n \log L_f$")
    right.plot(t[1:], np.diff(h), "o-", ms=3, c="C0", label="$H_{t+1} - H_t$")
    right.plot(t[1:], d, "--", c="C2", label=r"$E\,\log|\det A_t|$")
    right.plot(t[1:], b - h[:-1], "-", c="C3", label=r"$n \log L_f$")
    if violations is not None and len(violations):
        v = np.asarray(violations, int)
        left.plot(v + 1, h[v + 1], "x", c="k", ms=8, label="violation")
    for ax, ylabel in ((left, "entropy (nats)"), (right, "per step (nats)")):
        ax.set_xlabel("step $t$")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def _epoch_colors(epochs: np.ndarray) -> np.ndarray:
    """A colour per record, from early (dark) to late (yellow), as the paper's."""
    span = max(1, len(epochs) - 1)
    return plt.get_cmap("viridis")(np.arange(len(epochs)) / span)


def orbit_diagram(
    epochs: np.ndarray,
    values: np.ndarray,
    *,
    kind: str = "orbit1d",
    ylabel: str = "$y_t$",
    title: str | None = None,
) -> Figure:
    """Draw a bifurcation diagram over training epochs (Supp. Figs. 3-4).

    Args:
        epochs: Epoch of each record, shape `(r,)`.
        values: Steady-state outputs, shape `(steps, n_init, r)`.
        kind: ``"orbit1d"``: the values against the epoch; ``"orbit2d"``: a
            3-D plot of (epoch, y_t, y_t − y_{t−1}); ``"transient"``: the values
            against the step, one line per record. (Keyword only.)
        ylabel: Label of the values. (Keyword only.)
        title: Figure title. (Keyword only.)

    Returns:
        The Figure, the points of each epoch in their colour (viridis, early
        to late). Non-finite values are left out and counted in the title.
    """
    epochs = np.asarray(epochs)
    values = np.asarray(values, float)
    colors = _epoch_colors(epochs)
    if kind == "orbit2d":
        fig = plt.figure(figsize=(7, 5.5), layout="constrained")
        ax = fig.add_subplot(projection="3d")
        diff = values[1:] - values[:-1]
        for r, epoch in enumerate(epochs):
            y, d = values[1:, :, r].ravel(), diff[:, :, r].ravel()
            ok = np.isfinite(y) & np.isfinite(d)
            x = np.full(ok.sum(), epoch)
            ax.scatter(x, y[ok], d[ok], s=0.5, color=colors[r], alpha=0.5)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.set_zlabel("first difference")
    else:
        fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
        if kind == "transient":
            for r, epoch in enumerate(epochs):
                label = f"epoch {epoch}"
                ax.plot(values[:, 0, r], lw=0.8, color=colors[r], label=label)
            ax.set_xlabel("step after burn-in")
            if len(epochs) <= 12:
                ax.legend(fontsize=7, ncol=2)
        else:
            for r, epoch in enumerate(epochs):
                y = values[:, :, r].ravel()
                y = y[np.isfinite(y)]
                ax.plot(np.full(y.size, epoch), y, ",", color=colors[r], alpha=0.6)
            ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
    _suptitle_left_out(fig, title, values)
    return fig


def orbit_grid(
    epochs: np.ndarray,
    outputs: np.ndarray,
    *,
    rows: list[str],
    columns: list[str],
    kind: str = "orbit1d",
    title: str | None = None,
) -> Figure:
    """Draw one bifurcation diagram per projection and input (Supp. Figs. 5-7).

    Args:
        epochs: Epoch of each record, shape `(r,)`.
        outputs: Recorded orbits, shape `(steps, n_init, n_inputs, n_rows, r)`
            (``orbit.npz``'s layout; the outputs axis holds the projections).
        rows: A label per projection (figure row).
        columns: A label per input (figure column), e.g. a word and its
            feedback version.
        kind: ``"orbit1d"`` (values against the epoch) or ``"orbit2d"``
            ((epoch, p_t, p_t − p_{t−1}) in 3-D). (Keyword only.)
        title: Figure title. (Keyword only.)

    Returns:
        The Figure, each epoch in its colour as in `orbit_diagram`; non-finite
        values are left out and counted in the title.
    """
    epochs = np.asarray(epochs)
    values = np.asarray(outputs, float)
    colors = _epoch_colors(epochs)
    n_rows, n_cols = len(rows), len(columns)
    three_d = kind == "orbit2d"
    fig = plt.figure(figsize=(3.2 * n_cols, 2.6 * n_rows), layout="constrained")
    for i, row in enumerate(rows):
        for j, column in enumerate(columns):
            kw = {"projection": "3d"} if three_d else {}
            ax = fig.add_subplot(n_rows, n_cols, i * n_cols + j + 1, **kw)
            v = values[:, :, j, i]
            for r, epoch in enumerate(epochs):
                y = v[1:, :, r].ravel() if three_d else v[:, :, r].ravel()
                if three_d:
                    d = (v[1:, :, r] - v[:-1, :, r]).ravel()
                    ok = np.isfinite(y) & np.isfinite(d)
                    x = np.full(ok.sum(), epoch)
                    ax.scatter(x, y[ok], d[ok], s=0.3, color=colors[r])
                else:
                    y = y[np.isfinite(y)]
                    x = np.full(y.size, epoch)
                    ax.plot(x, y, ".", color=colors[r], ms=1.5, alpha=0.6)
            if i == 0:
                ax.set_title(column, fontsize=9)
            if j == 0:
                ax.set_ylabel(f"p = {row}", fontsize=9)
            if i == n_rows - 1:
                ax.set_xlabel("epoch", fontsize=8)
            ax.tick_params(labelsize=7)
    _suptitle_left_out(fig, title, values)
    return fig


def training_curves(
    history: list[dict[str, Any]], *, title: str | None = None
) -> Figure:
    """Draw loss and accuracy against the epoch, one line per seed (Supp. Fig. 2).

    Args:
        history: Rows with ``epoch``, ``seed``, ``train_loss``, ``val_loss``,
            ``train_acc``, ``val_acc`` (accuracies NaN for regression).
        title: Figure title. (Keyword only.)

    Returns:
        The Figure.
    """
    seeds = sorted({row["seed"] for row in history})
    with_acc = any(np.isfinite(row["val_acc"]) for row in history)
    fig, axes = plt.subplots(
        1,
        2 if with_acc else 1,
        figsize=(11 if with_acc else 6, 4),
        layout="constrained",
    )
    axes = np.atleast_1d(axes)
    for i, seed in enumerate(seeds):
        rows = [r for r in history if r["seed"] == seed]
        epoch = [r["epoch"] for r in rows]
        for ax, key in zip(axes, ("loss", "acc"), strict=False):
            ax.plot(
                epoch,
                [r[f"train_{key}"] for r in rows],
                c=f"C{i}",
                label=f"seed {seed} train",
            )
            ax.plot(
                epoch,
                [r[f"val_{key}"] for r in rows],
                "--",
                c=f"C{i}",
                label=f"seed {seed} validation",
            )
    axes[0].set_ylabel("loss")
    axes[0].set_yscale("log")
    if with_acc:
        axes[1].set_ylabel("accuracy")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    return fig
