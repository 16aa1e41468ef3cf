"""Sine generation: a constant frequency in, the sine of its running sum out."""

from __future__ import annotations

import numpy as np

from ._task import Task


def sine(
    seq_len: int = 400,
    *,
    n_train: int = 100,
    n_val: int = 20,
    low: float = np.pi / 16,
    high: float = np.pi / 8,
    n_orbit: int = 10,
) -> Task:
    r"""The authors' sine generator task.

    Input u_t = ω (constant over the sequence); target y_t = sin(Σ_{k≤t} ω) =
    sin((t + 1) ω), so the model must turn a constant input into an
    oscillation of that frequency: a limit cycle whose period depends on ω.
    Training frequencies are ``linspace(low, high, n_train)`` (the authors'
    100 sequences in [π/16, π/8]); validation frequencies are midpoints
    between consecutive training frequencies, spread over the range, so none
    is a training frequency. MSE on every output.

    Args:
        seq_len: Sequence length T.
        n_train: Training sequences. (Keyword only.)
        n_val: Validation sequences. (Keyword only.)
        low: Lowest frequency. (Keyword only.)
        high: Highest frequency. (Keyword only.)
        n_orbit: Frequencies in [low, high] for the orbit recorder.
            (Keyword only.)

    Returns:
        A `Task`.

    Raises:
        ValueError: For ``n_train < 2``, non-positive sizes or ``low >= high``.
    """
    if min(seq_len, n_train - 1, n_val, n_orbit) < 1 or not low < high:
        raise ValueError(
            "sine needs seq_len, n_val, n_orbit >= 1, n_train >= 2 and low < high, got "
            f"{seq_len}, {n_train}, {n_val}, {n_orbit}, {low}, {high}"
        )
    w_train = np.linspace(low, high, n_train)
    mids = (w_train[:-1] + w_train[1:]) / 2
    w_val = mids[np.linspace(0, mids.size - 1, n_val).round().astype(int)]

    def data(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = np.arange(1, seq_len + 1)
        us = np.broadcast_to(w[:, None, None], (w.size, seq_len, 1)).copy()
        return us, np.sin(w[:, None] * t[None, :])[..., None]

    w_orbit = np.linspace(low, high, n_orbit)
    return Task(
        "sine",
        *data(w_train),
        *data(w_val),
        loss="mse",
        last_only=False,
        output_size=1,
        orbit_inputs=w_orbit[:, None],
        orbit_labels=tuple(f"ω={w:.4f}" for w in w_orbit),
    )
