"""The chaotic LSTM of Appendix C (Eq. S17-S18): zero input, no bias, H = 2."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from .._types import State
from ..models._base import float_dtype
from ..models._cell import CellParams
from ..models.lstm import LSTM

# Appendix C as printed. The authors' public code has W_hi[0, 1] = -4 and
# W_ho[1, 1] = -7: two minus signs that the PDF lost.
_PRINTED = {
    "W_hi": [[-1, 4], [-3, -2]],
    "W_hf": [[-2, 6], [0, -6]],
    "W_hg": [[-1, -6], [6, -9]],
    "W_ho": [[4, 1], [-9, 7]],
}
_AUTHORS = {**_PRINTED, "W_hi": [[-1, -4], [-3, -2]], "W_ho": [[4, 1], [-9, -7]]}
VARIANTS = {"printed": _PRINTED, "authors": _AUTHORS}


def chaotic_lstm(
    variant: str = "authors", *, dtype: Any = None
) -> tuple[LSTM, CellParams, State]:
    """Return the chaotic LSTM of Appendix C as ``(model, params, x0)``.

    The model has no input (``input_size = 0``, so ``us = jnp.zeros((N, 0))``),
    no bias and output ``h``; θ_true is the 16 entries of W_hi, W_hf, W_hg,
    W_ho, stacked in PyTorch's gate order as ``weight_hh``.
    x0 = [h0, c0] = [0.5, 0.5, 0.5, 0.5].

    Args:
        variant: ``"authors"`` (the weights of the authors' code, default) or
            ``"printed"`` (the matrices as printed in the supplement).
        dtype: Float dtype; defaults to JAX's default float. (Keyword only.)

    Returns:
        ``(model, params, x0)``.

    Raises:
        ValueError: If ``variant`` is unknown.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {sorted(VARIANTS)}, got {variant!r}")
    dtype = float_dtype(dtype)
    w = VARIANTS[variant]
    weight_hh = np.concatenate([w["W_hi"], w["W_hf"], w["W_hg"], w["W_ho"]])
    model = LSTM(input_size=0, hidden_size=2, readout=None, bias=False)
    params = CellParams(
        weight_ih=jnp.zeros((8, 0), dtype),
        weight_hh=jnp.asarray(weight_hh, dtype),
        bias_ih=None,
        bias_hh=None,
    )
    return model, params, jnp.full((4,), 0.5, dtype)
