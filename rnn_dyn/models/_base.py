r"""The Model protocol: a recurrent model as the state-space system of Eq. (1).

.. math::
    x_{t+1} = f(x_t, u_t; \theta), \qquad \\hat y_t = g(x_t, u_t; \theta)

A model is a frozen, hashable dataclass of static hyperparameters; every array
lives in ``params``. ``f`` is the discrete-time map and acts on a flat state
vector (the LSTM stacks ``x = [h, c]``).
"""

from __future__ import annotations

import functools as ft
from typing import Any, Protocol, runtime_checkable

import jax
import jax.numpy as jnp
import numpy as np

from .._types import Input, Key, Output, Params, State


@runtime_checkable
class Model(Protocol):
    """A recurrent model x' = f(x, u; θ), ŷ = g(x, u; θ) on flat state vectors."""

    state_size: int
    input_size: int
    output_size: int

    def init(self, key: Key, *, dtype: Any = None) -> Params:
        """Draw parameters with the model's default initialisation."""
        ...

    def f(self, params: Params, x: State, u: Input) -> State:
        """Step the state from x_t to x_{t+1}."""
        ...

    def g(self, params: Params, x: State, u: Input) -> Output:
        """Read the output ŷ_t at (x_t, u_t)."""
        ...

    def initial_state(self, params: Params) -> State:
        """Return the default initial state x_0, in the dtype of ``params``."""
        ...


@runtime_checkable
class Preparable(Protocol):
    """A model that can hoist per-step work out of the time loop (oRNN's expm).

    ``prepare(params)`` returns an equivalent ``(model, params)`` pair that is
    cheaper to step: simulate with it, differentiate through it.
    """

    def prepare(self, params: Params) -> tuple[Any, Params]:
        """Return the ``(model, params)`` to step with."""
        ...


@runtime_checkable
class GridMinor(Protocol):
    """A model that steps many parameter points at once, the points on the last axis.

    ``f_minor(params, x, u)`` and ``g_minor`` are `Model.f` and `Model.g` at G
    points: every leaf of ``params`` has a trailing axis of G points, the state
    is `(n, G)` and the input `(m,)` is shared by every point. Written
    elementwise over G, XLA vectorises each step across the points; `jax.vmap`
    of `f` puts the points first instead, with G tiny matrix products inside
    the time loop. `rnn_dyn.landscape.evaluate` uses this layout for small
    models (``layout="minor"``).
    """

    def f_minor(self, params: Params, x: Any, u: Input) -> Any:
        """Step the states of G points, `(n, G)`, to the next ones."""
        ...

    def g_minor(self, params: Params, x: Any, u: Input) -> Any:
        """Read the outputs of G points, `(p, G)`."""
        ...


@runtime_checkable
class Stabilizable(Protocol):
    """A model with a projection onto its stable set (Miller & Hardt's sLSTM)."""

    def stabilize(
        self, params: Params, *, mode: str = "clip", norm: str = "l1"
    ) -> Params:
        """Project ``params`` back onto the stable set after an optimiser step."""
        ...


def prepared(model: Any, params: Params) -> tuple[Any, Params]:
    """The ``(model, params)`` to step with: `Preparable.prepare` where there is one."""
    return model.prepare(params) if isinstance(model, Preparable) else (model, params)


def float_dtype(dtype: Any = None) -> Any:
    """Resolve ``None`` to JAX's default float dtype (float64 under x64)."""
    return jnp.result_type(float) if dtype is None else jnp.dtype(dtype)


def params_dtype(params: Params) -> Any:
    """Return the dtype of the first floating leaf of ``params``."""
    for leaf in jax.tree_util.tree_leaves(params):
        if jnp.issubdtype(jnp.result_type(leaf), jnp.floating):
            return jnp.result_type(leaf)
    return float_dtype()


@ft.lru_cache(maxsize=256)
def param_shapes(model: Any, dtype: Any = None) -> Any:
    """The params pytree of ``model`` as ``ShapeDtypeStruct`` leaves.

    ``model`` is a `Model`, or anything else with ``init(key, *, dtype=)``
    (a `rnn_dyn.models.LanguageModel`).
    """
    return jax.eval_shape(lambda k: model.init(k, dtype=dtype), jax.random.key(0))


def uniform(key: Key, shape: tuple[int, ...], bound: float, dtype: Any) -> jax.Array:
    """Draw from U(-bound, bound), PyTorch's default recurrent initialisation."""
    return jax.random.uniform(key, shape, dtype=dtype, minval=-bound, maxval=bound)


def state_dict_get(
    state_dict: dict[str, Any], name: str, *, required: bool = True
) -> np.ndarray | None:
    """Look up ``name`` or ``name + "_l0"`` (nn.LSTM's layer suffix) in a state dict."""
    for key in (name, name + "_l0"):
        if key in state_dict:
            return np.asarray(state_dict[key])
    if required:
        raise ValueError(
            f"state dict has no entry {name!r} (or {name + '_l0'!r}); "
            f"found {sorted(state_dict)}"
        )
    return None
