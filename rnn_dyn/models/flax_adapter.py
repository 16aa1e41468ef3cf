"""Wrap a flax RNN cell (linen or nnx) as a `Model`, so every tool applies to it.

This is the only module that imports flax, and it does so lazily: importing
``rnn_dyn`` never imports flax.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from .._types import Input, Key, Output, Params, State


@dataclasses.dataclass(frozen=True, eq=False)
class FlaxCell:
    """A flax RNN cell seen as x' = f(x, u), ŷ = g(x, u) on the flattened carry.

    The carry pytree (``(c, h)`` for ``LSTMCell``) is flattened with
    `jax.flatten_util.ravel_pytree`, so the state vector is the concatenation of
    the carry's leaves in pytree order. ``g`` is the cell's own output at the
    step, i.e. the output flax's ``nn.RNN`` returns, which for the LSTM and GRU
    cells is h_{t+1}, the same convention as the PyTorch-layout models.
    Instances compare by identity, which is what ``jit``'s static arguments need.

    Attributes:
        apply: ``apply(params, carry, u) -> (carry', y)``.
        init_fn: ``init_fn(key) -> params``.
        unravel: Maps a flat state vector back to the carry pytree.
        state_size: Size of the flattened carry.
        input_size: Input dimension ``m``.
        output_size: Output dimension ``p``.
    """

    apply: Callable[[Params, Any, Input], tuple[Any, Output]]
    init_fn: Callable[[Key], Params]
    unravel: Callable[[State], Any]
    state_size: int
    input_size: int
    output_size: int

    def init(self, key: Key, *, dtype: Any = None) -> Params:
        """Initialise the wrapped cell (nnx: return its current state).

        Args:
            key: PRNG key (ignored for nnx cells, which own their parameters).
            dtype: If given, cast the parameters to this float dtype.
                (Keyword only.)

        Returns:
            The flax parameter pytree.
        """
        params = self.init_fn(key)
        if dtype is None:
            return params
        return jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype), params)

    def f(self, params: Params, x: State, u: Input) -> State:
        """Return the flattened next carry."""
        carry, _ = self.apply(params, self.unravel(x), u)
        return ravel_pytree(carry)[0].astype(x.dtype)

    def g(self, params: Params, x: State, u: Input) -> Output:
        """Return the cell's output at this step."""
        _, y = self.apply(params, self.unravel(x), u)
        return y

    def initial_state(self, params: Params) -> State:
        """Return the zero carry, flattened."""
        dtype = jax.tree_util.tree_leaves(params)[0].dtype
        return jnp.zeros((self.state_size,), dtype)


def _probe_input(carry: Any, input_size: int) -> Input:
    """Zero input in the carry's dtype, so a float32 cell is not promoted under x64."""
    return jnp.zeros((input_size,), jax.tree_util.tree_leaves(carry)[0].dtype)


def from_flax(
    cell: Any, params: Params | None = None, *, input_size: int, key: Key | None = None
) -> tuple[FlaxCell, Params]:
    """Wrap a flax RNN cell (``flax.linen`` or ``flax.nnx``) as a `Model`.

    Args:
        cell: A linen cell such as ``nn.LSTMCell(features=H)`` or ``nn.GRUCell``,
            or an nnx cell such as ``nnx.LSTMCell(I, H, rngs=...)``.
        params: For a linen cell, its variables (``{"params": ...}``); if None,
            the cell is initialised with ``key``. Must be None for an nnx cell,
            whose parameters are taken from the module.
        input_size: Input dimension ``m``. (Keyword only.)
        key: PRNG key to initialise a linen cell when ``params`` is None.
            (Keyword only.)

    Returns:
        ``(model, params)``; use them with every rnn_dyn function.

    Raises:
        ValueError: If ``cell`` is not a flax RNN cell or the arguments disagree.
    """
    from flax import linen, nnx

    if not isinstance(input_size, int) or input_size < 0:
        raise ValueError(
            f"input_size must be a non-negative integer, got {input_size!r}"
        )
    if isinstance(cell, linen.Module):
        carry0 = cell.initialize_carry(jax.random.key(0), (input_size,))
        u0 = _probe_input(carry0, input_size)

        def init_fn(k: Key) -> Params:
            return cell.init(k, carry0, u0)

        apply = cell.apply
        if params is None:
            if key is None:
                raise ValueError("from_flax needs params or key for a linen cell")
            params = init_fn(key)
    elif isinstance(cell, nnx.Module):
        if params is not None:
            raise ValueError(
                "from_flax takes no params for an nnx cell; pass the module"
            )
        carry0 = cell.initialize_carry((input_size,), rngs=nnx.Rngs(0))
        u0 = _probe_input(carry0, input_size)
        graphdef, params = nnx.split(cell)

        def init_fn(k: Key) -> Params:
            del k
            return nnx.split(cell)[1]

        def apply(p: Params, carry: Any, u: Input) -> tuple[Any, Output]:
            return nnx.merge(graphdef, p)(carry, u)
    else:
        raise ValueError(
            "from_flax expects a flax.linen or flax.nnx RNN cell, "
            f"got {type(cell).__name__}"
        )
    flat, unravel = ravel_pytree(carry0)
    _, y0 = jax.eval_shape(apply, params, carry0, u0)
    model = FlaxCell(
        apply=apply,
        init_fn=init_fn,
        unravel=unravel,
        state_size=int(flat.shape[0]),
        input_size=input_size,
        output_size=int(y0.shape[0]),
    )
    return model, params
