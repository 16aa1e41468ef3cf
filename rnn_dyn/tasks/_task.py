"""What a training task is: data, a loss, and the inputs its orbits are drawn for."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Task(NamedTuple):
    """A supervised sequence task, as NumPy arrays.

    Attributes:
        name: ``"sine"`` or ``"symbols"``.
        train_inputs: Shape `(S, T, m)`.
        train_targets: `(S, T, p)` for regression, `(S,)` integer classes for
            classification on the last output.
        val_inputs: Validation inputs, `(S', T, m)`.
        val_targets: Validation targets, like ``train_targets``.
        loss: ``"mse"`` or ``"cross_entropy"``.
        last_only: Whether only the last output is scored (classification).
        output_size: Outputs p of the model (classes for classification).
        orbit_inputs: Constant inputs whose attractors the orbit recorder
            draws, `(k, m)`.
        orbit_labels: A name per orbit input.
    """

    name: str
    train_inputs: np.ndarray
    train_targets: np.ndarray
    val_inputs: np.ndarray
    val_targets: np.ndarray
    loss: str
    last_only: bool
    output_size: int
    orbit_inputs: np.ndarray
    orbit_labels: tuple[str, ...]

    @property
    def input_size(self) -> int:
        """Input dimension m."""
        return int(self.train_inputs.shape[-1])

    @property
    def classification(self) -> bool:
        """Whether accuracy is defined (cross-entropy on integer classes)."""
        return self.loss == "cross_entropy"
