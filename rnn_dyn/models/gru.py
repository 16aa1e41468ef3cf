"""GRU with PyTorch's layout (gates r, z, n)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp
from jaxtyping import Array

from .._types import Input
from ._cell import CellParams, TorchCell

GRUParams = CellParams


@dataclasses.dataclass(frozen=True)
class GRU(TorchCell):
    r"""Gated recurrent unit, as ``torch.nn.GRU``.

    .. math::
        r, z = σ(W_{ih} u + b_{ih} + W_{hh} h + b_{hh})_{r,z},\quad
        n = \tanh\big((W_{ih} u + b_{ih})_n + r * (W_{hh} h + b_{hh})_n\big),\quad
        h' = (1 - z) * n + z * h.
    """

    num_gates: ClassVar[int] = 3

    def _step(self, params: CellParams, x: Array, u: Input) -> Array:
        """Return h_{t+1}."""
        gi, gh = self._preactivations(params, x, u)
        i_r, i_z, i_n = jnp.split(gi, 3)
        h_r, h_z, h_n = jnp.split(gh, 3)
        r = jax.nn.sigmoid(i_r + h_r)
        z = jax.nn.sigmoid(i_z + h_z)
        n = jnp.tanh(i_n + r * h_n)
        return (1 - z) * n + z * x


def gru(
    input_size: int,
    hidden_size: int,
    *,
    readout: int | None = None,
    bias: bool = True,
) -> GRU:
    """Create a GRU (``torch.nn.GRU`` layout, gate order r, z, n).

    Args:
        input_size: Input dimension ``m``.
        hidden_size: Hidden and state dimension ``n``.
        readout: Output dimension of a linear readout, or None to output ``h``.
            (Keyword only.)
        bias: Whether the cell has biases. (Keyword only.)

    Returns:
        A `GRU`.
    """
    return GRU(input_size, hidden_size, readout, bias)
