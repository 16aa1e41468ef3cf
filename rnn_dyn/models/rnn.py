"""Elman RNN, h' = φ(W_ih u + b_ih + W_hh h + b_hh), as in ``torch.nn.RNN``."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from jaxtyping import Array

from .._types import Input
from ._cell import CellParams, TorchCell

ElmanParams = CellParams


@dataclasses.dataclass(frozen=True)
class ElmanRNN(TorchCell):
    """Elman RNN with PyTorch's layout; the state is ``h``.

    Attributes:
        nonlinearity: ``"tanh"`` (default) or ``"relu"``.
    """

    nonlinearity: str = "tanh"

    def __post_init__(self) -> None:  # noqa: D105
        super().__post_init__()
        if self.nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"nonlinearity must be 'tanh' or 'relu', got {self.nonlinearity!r}"
            )

    def _step(self, params: CellParams, x: Array, u: Input) -> Array:
        """Return h_{t+1} = φ(W_ih u_t + b_ih + W_hh h_t + b_hh)."""
        gi, gh = self._preactivations(params, x, u)
        act = jnp.tanh if self.nonlinearity == "tanh" else jax.nn.relu
        return act(gi + gh)


def rnn(
    input_size: int,
    hidden_size: int,
    *,
    readout: int | None = None,
    bias: bool = True,
    nonlinearity: str = "tanh",
) -> ElmanRNN:
    """Create an Elman RNN (``torch.nn.RNN`` layout).

    Args:
        input_size: Input dimension ``m``.
        hidden_size: Hidden and state dimension ``n``.
        readout: Output dimension of a linear readout, or None to output ``h``.
            (Keyword only.)
        bias: Whether the cell has biases. (Keyword only.)
        nonlinearity: ``"tanh"`` or ``"relu"``. (Keyword only.)

    Returns:
        An `ElmanRNN`.
    """
    return ElmanRNN(input_size, hidden_size, readout, bias, nonlinearity)
