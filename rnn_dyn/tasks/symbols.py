"""Symbol classification: the order of two symbols among distractors."""

from __future__ import annotations

import numpy as np

from ._task import Task

N_RELEVANT = 2
N_DISTRACTORS = 4


def symbols(
    seq_len: int = 100,
    *,
    n_train: int = 1000,
    n_val: int = 1000,
    seed: int = 0,
) -> Task:
    r"""The symbol classification task of the paper (after Hochreiter's task).

    Each step is a one-hot vector over 6 symbols: 2 relevant ones (X, Y) and
    4 distractors. Two relevant symbols appear, the first at a random position
    in [9, 19) and the second in [39, 49) (positions scaled by T/100 when the
    sequence is shorter than 100); every other step is a random distractor.
    The class (4 of them) is the ordered pair: XX, XY, YX, YY. Cross-entropy
    and accuracy on the last output. Training and validation sets come from
    independent streams of the same seed.

    Args:
        seq_len: Sequence length T ≥ 2.
        n_train: Training sequences. (Keyword only.)
        n_val: Validation sequences. (Keyword only.)
        seed: Seed of the NumPy generator. (Keyword only.)

    Returns:
        A `Task` with integer targets of shape `(S,)`.

    Raises:
        ValueError: For ``seq_len < 2`` or non-positive set sizes.
    """
    if seq_len < 2 or min(n_train, n_val) < 1:
        raise ValueError(
            "symbols needs seq_len >= 2 and n_train, n_val >= 1, got "
            f"{seq_len}, {n_train}, {n_val}"
        )
    train_rng, val_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2)
    )
    scale = min(1.0, seq_len / 100)
    windows = [
        (int(lo * scale), max(int(lo * scale) + 1, int(hi * scale)))
        for lo, hi in ((9, 19), (39, 49))
    ]

    def data(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        codes = rng.integers(N_RELEVANT, N_RELEVANT + N_DISTRACTORS, (n, seq_len))
        pair = rng.integers(0, N_RELEVANT, (n, 2))
        rows = np.arange(n)
        for j, (lo, hi) in enumerate(windows):
            codes[rows, rng.integers(lo, hi, n)] = pair[:, j]
        one_hot = np.eye(N_RELEVANT + N_DISTRACTORS)[codes]
        return one_hot, pair[:, 0] * N_RELEVANT + pair[:, 1]

    names = ("X", "Y") + tuple(f"d{i}" for i in range(1, N_DISTRACTORS + 1))
    return Task(
        "symbols",
        *data(train_rng, n_train),
        *data(val_rng, n_val),
        loss="cross_entropy",
        last_only=True,
        output_size=N_RELEVANT**2,
        orbit_inputs=np.eye(N_RELEVANT + N_DISTRACTORS),
        orbit_labels=names,
    )
