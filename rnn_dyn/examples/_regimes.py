"""One model per regime of Theorem 1: contractive, neutral and chaotic."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from ..models.linear import Linear
from ..models.rnn import ElmanRNN
from . import REGIMES
from ._chaotic_lstm import chaotic_lstm


def regime_example(
    name: str, n_steps: int, *, key: Any, dtype: Any = None
) -> tuple[Any, Any, Any, Any]:
    """Return ``(model, params, x0, us)`` of a system in one regime of Theorem 1.

    - ``"contractive"``: a tanh RNN (1 input, 8 units, 1 output) with
      ‖W_hh‖₂ = 0.5, so ‖A_t‖₂ ≤ 0.5 everywhere, driven by Gaussian input;
    - ``"neutral"``: a linear model (4 states, 1 input, 1 output) with an
      orthogonal state matrix, ‖A_t‖₂ = 1, and zero input, so the state stays
      on a sphere (a compact Ω, as the theorem assumes);
    - ``"chaotic-lstm"``: Appendix C with the authors' weights, zero input.

    Args:
        name: One of `rnn_dyn.examples.REGIMES`.
        n_steps: Length of the input sequence.
        key: PRNG key for the random weights and inputs. (Keyword only.)
        dtype: Float dtype; defaults to JAX's default float. (Keyword only.)

    Returns:
        ``(model, params, x0, us)`` with ``us`` of shape `(n_steps, m)`.

    Raises:
        ValueError: If ``name`` is unknown.
    """
    k_model, k_input = jax.random.split(key)
    if name == "chaotic-lstm":
        model, params, x0 = chaotic_lstm("authors", dtype=dtype)
        return model, params, x0, jnp.zeros((n_steps, 0), x0.dtype)
    if name == "contractive":
        model = ElmanRNN(input_size=1, hidden_size=8, readout=1)
        params = model.init(k_model, dtype=dtype)
        w = params.weight_hh
        params = params._replace(weight_hh=w * (0.5 / jnp.linalg.norm(w, 2)))
        x0 = model.initial_state(params)
        us = jax.random.normal(k_input, (n_steps, 1), x0.dtype)
        return model, params, x0, us
    if name == "neutral":
        model = Linear(state_size=4, input_size=1, output_size=1)
        params = model.init(k_model, dtype=dtype)
        q, _ = jnp.linalg.qr(jax.random.normal(k_model, (4, 4), params.a.dtype))
        params = params._replace(a=q)
        x0 = jnp.full((4,), 0.5, params.a.dtype)
        return model, params, x0, jnp.zeros((n_steps, 1), x0.dtype)
    raise ValueError(f"system must be one of {REGIMES}, got {name!r}")
