"""LSTM with PyTorch's layout (gates i, f, g, o) on the flat state x = [h, c]."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp
from jaxtyping import Array

from .._types import Input
from ._cell import CellParams, TorchCell

LSTMParams = CellParams


@dataclasses.dataclass(frozen=True)
class LSTM(TorchCell):
    r"""Long short-term memory cell, as ``torch.nn.LSTM``.

    .. math::
        i, f, g, o = σ, σ, \tanh, σ\,(W_{ih} u + b_{ih} + W_{hh} h + b_{hh}),\quad
        c' = f * c + i * g,\quad h' = o * \tanh(c').

    The state is ``x = [h, c]`` of size ``2H``.
    """

    num_gates: ClassVar[int] = 4
    state_multiple: ClassVar[int] = 2

    def _step(self, params: CellParams, x: Array, u: Input) -> Array:
        """Return x_{t+1} = [h_{t+1}, c_{t+1}]."""
        h, c = x[: self.hidden_size], x[self.hidden_size :]
        gi, gh = self._preactivations(params, h, u)
        i, f, g, o = jnp.split(gi + gh, 4)
        c_new = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h_new = jax.nn.sigmoid(o) * jnp.tanh(c_new)
        return jnp.concatenate([h_new, c_new])


def lstm(
    input_size: int,
    hidden_size: int,
    *,
    readout: int | None = None,
    bias: bool = True,
) -> LSTM:
    """Create an LSTM (``torch.nn.LSTM`` layout, gate order i, f, g, o).

    Args:
        input_size: Input dimension ``m``.
        hidden_size: Hidden dimension ``H``; the state has size ``2H``.
        readout: Output dimension of a linear readout, or None to output ``h``.
            (Keyword only.)
        bias: Whether the cell has biases. (Keyword only.)

    Returns:
        An `LSTM`.
    """
    return LSTM(input_size, hidden_size, readout, bias)
