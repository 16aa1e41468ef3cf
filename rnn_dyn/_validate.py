"""Shape checks on user input, run in Python before tracing."""

from __future__ import annotations

import jax
import numpy as np

from ._types import Params
from .models._base import Model, param_shapes


def _shape(a: object) -> tuple[int, ...]:
    return tuple(np.shape(a))  # works on arrays, tracers and ShapeDtypeStructs


def check_params(model: Model, params: Params) -> None:
    """Raise ValueError unless ``params`` matches ``model.init`` in structure."""
    expected = param_shapes(model)
    exp_leaves, exp_def = jax.tree_util.tree_flatten_with_path(expected)
    got_leaves, got_def = jax.tree_util.tree_flatten_with_path(params)
    if exp_def != got_def:
        raise ValueError(
            f"params do not match {type(model).__name__}: expected a pytree like "
            f"{exp_def}, got {got_def}"
        )
    for (path, e), (_, g) in zip(exp_leaves, got_leaves, strict=True):
        if _shape(e) != _shape(g):
            raise ValueError(
                f"params{jax.tree_util.keystr(path)} must have shape {_shape(e)}, "
                f"got {_shape(g)}"
            )


def check_finite_params(params: Params, name: str = "params") -> None:
    """Raise ValueError if a leaf of ``params`` holds NaN or infinity.

    Only for concrete arrays: call it in Python, before tracing.
    """
    leaves = jax.tree_util.tree_flatten_with_path(params)[0]
    for path, leaf in leaves:
        bad = int(np.size(leaf) - np.count_nonzero(np.isfinite(np.asarray(leaf))))
        if bad:
            raise ValueError(
                f"{name} must be finite: {jax.tree_util.keystr(path)} holds "
                f"{bad} non-finite value{'s' if bad > 1 else ''}"
            )


def check_state(model: Model, x0: object, name: str = "x0") -> None:
    """Raise ValueError unless ``x0`` has shape ``(state_size,)``."""
    if _shape(x0) != (model.state_size,):
        raise ValueError(
            f"{name} must have shape ({model.state_size},), got {_shape(x0)}"
        )


def check_inputs(model: Model, us: object) -> int:
    """Raise ValueError unless ``us`` has shape ``(N, input_size)``; return N."""
    shape = _shape(us)
    if len(shape) != 2 or shape[1] != model.input_size or shape[0] < 1:
        raise ValueError(
            f"inputs must have shape (N, {model.input_size}) with N >= 1, got {shape}"
        )
    return shape[0]


def check_trajectory_args(model: Model, params: Params, x0: object, us: object) -> int:
    """Check ``(params, x0, us)`` against ``model``; return the sequence length N."""
    check_params(model, params)
    check_state(model, x0)
    return check_inputs(model, us)
