"""Checks of user input: the one home of argument validation, run before tracing.

A public function of a model checks its arguments here, once, then runs
private kernels that check nothing; one built on another's work (as
`measure_smoothness` on `simulate` and `cost_smoothness`) runs that one's
kernel, not the public function, so every argument is checked once per call.
The checks raise ``ValueError`` naming the expected and the actual value.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._losses import LossFn, resolve_loss
from ._types import Inputs, Params, State, Targets
from .models._base import Model, param_shapes


def _is_float(a: Any) -> bool:
    return jnp.issubdtype(jnp.result_type(a), jnp.floating)


def widest_float(*trees: Any) -> Any:
    """The widest float dtype among the leaves of ``trees``, or None if none is."""
    dtypes = [jnp.result_type(a) for a in jax.tree_util.tree_leaves(trees)]
    floats = [d for d in dtypes if jnp.issubdtype(d, jnp.floating)]
    return max(floats, key=lambda d: jnp.finfo(d).bits) if floats else None


def promote(params: Params, *arrays: Any) -> tuple[Any, ...]:
    """The one dtype rule: cast to the widest float dtype among the arguments.

    ``params`` and every float array are cast to the widest float dtype among
    them (so float32 parameters with a float64 ``x0`` compute in float64);
    integer arrays (class labels) are left alone. Gradients are returned in
    the dtype of ``params`` (as `jax.grad` does), everything else in the
    common dtype.

    Returns:
        ``(params, *arrays)`` cast.
    """
    dtype = widest_float(params, arrays)
    if dtype is None:
        return (params, *arrays)
    cast = lambda a: jnp.asarray(a, dtype) if _is_float(a) else a
    return tuple(jax.tree_util.tree_map(cast, (params, *arrays)))


def like_params(grad: Params, params: Params) -> Params:
    """``grad`` cast leaf by leaf to the dtypes of ``params``."""
    return jax.tree_util.tree_map(
        lambda g, p: g.astype(jnp.result_type(p)), grad, params
    )


def available_memory(on_device: bool) -> int | None:
    """Bytes still free where results go, or None where that cannot be told.

    ``on_device``: in the default device's memory (its ``memory_stats`` on a
    GPU or TPU; the host's on CPU), else in the host's (Linux's MemAvailable).
    """
    device = jax.devices()[0]
    if on_device and device.platform != "cpu":
        stats = device.memory_stats() or {}
        if "bytes_limit" not in stats:
            return None
        return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def check_memory(n_values: int, dtype: Any, what: str, *, on_device: bool) -> None:
    """Refuse up front a request whose ``n_values`` values cannot fit in memory.

    Raises:
        ValueError: Saying how much memory ``what`` needs and how much is free.
    """
    need = n_values * np.dtype(dtype).itemsize
    free = available_memory(on_device)
    if free is not None and need > free:
        raise ValueError(
            f"{what} need {_size(need)} of memory and {_size(free)} is free: "
            "ask for fewer"
        )


def _size(n_bytes: int) -> str:
    unit = max(u for u in range(4) if n_bytes >= 1024**u or u == 0)
    return f"{n_bytes / 1024**unit:.1f} {('B', 'KiB', 'MiB', 'GiB')[unit]}"


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


def check_cost_args(
    model: Model,
    params: Params,
    x0: State,
    us: Inputs,
    ys: Targets,
    *,
    loss: str | LossFn,
    burn_in: int,
    last_only: bool,
) -> LossFn:
    """Check the arguments of `cost` (and its gradients); return the step loss."""
    n_steps = check_trajectory_args(model, params, x0, us)
    loss_fn, target_shape = resolve_loss(loss, model.output_size)
    expected = target_shape if last_only else (n_steps, *target_shape)
    if _shape(ys) != expected:
        raise ValueError(f"targets ys must have shape {expected}, got {_shape(ys)}")
    if not isinstance(burn_in, int) or not 0 <= burn_in < n_steps:
        raise ValueError(
            f"burn_in must be an integer in [0, {n_steps}), got {burn_in!r}"
        )
    if last_only and burn_in:
        raise ValueError("burn_in must be 0 when last_only=True")
    return loss_fn


# --- Lipschitz constants and Theorem 1 -------------------------------------


def check_points(model: Model, params: Params, xs: object, us: object) -> None:
    """Check a batch of points: states ``xs`` `(b, n)`, inputs ``us`` `(b, m)`."""
    check_params(model, params)
    n, m = model.state_size, model.input_size
    b = _shape(xs)[0] if _shape(xs) else 0
    if _shape(xs) != (b, n) or b < 1:
        raise ValueError(f"xs must have shape (b, {n}) with b >= 1, got {_shape(xs)}")
    if _shape(us) != (b, m):
        raise ValueError(f"us must have shape ({b}, {m}) to match xs, got {_shape(us)}")


def check_trajectory_lipschitz_args(
    model: Model, params: Params, x0: object, us: object, *, wrt: str
) -> None:
    """Check the arguments of `trajectory_lipschitz`."""
    check_trajectory_args(model, params, x0, us)
    if wrt not in ("both", "params", "x0"):
        raise ValueError(f"wrt must be 'both', 'params' or 'x0', got {wrt!r}")


def check_cost_smoothness_args(
    model: Model,
    params: Params,
    x0: object,
    us: object,
    ys: object | None,
    *,
    lengths: tuple[int, ...],
    radius: float,
    loss: str,
) -> LossFn:
    """Check the arguments of `cost_smoothness`; return the step loss.

    ``ys`` None skips the targets (`measure_smoothness` makes its own).
    """
    n_max = check_trajectory_args(model, params, x0, us)
    if not lengths or min(lengths) < 1 or max(lengths) > n_max:
        raise ValueError(
            f"lengths must be non-empty and within [1, {n_max}], got {lengths}"
        )
    if not radius > 0:
        raise ValueError(f"radius must be positive, got {radius}")
    loss_fn, target_shape = resolve_loss(loss, model.output_size)
    if ys is not None and _shape(ys) != (n_max, *target_shape):
        raise ValueError(
            f"targets ys must have shape {(n_max, *target_shape)}, got {_shape(ys)}"
        )
    return loss_fn


def check_smoothness_lengths(lengths: Iterable[int]) -> tuple[int, ...]:
    """Raise unless ``lengths`` holds 3 distinct values; return them sorted."""
    lengths = tuple(sorted(set(lengths)))
    if len(lengths) < 3:
        raise ValueError(f"lengths must hold at least 3 distinct values, got {lengths}")
    return lengths


# --- Lyapunov exponents and attractors -------------------------------------


def check_lyapunov_args(
    model: Model,
    params: Params,
    x0: object,
    us: object | None,
    *,
    n_steps: int | None,
    burn_in: int,
    k: int | None = None,
    d0: float | None = None,
) -> int:
    """Check the arguments of the Lyapunov estimators; return the measured steps.

    ``x0`` is one state `(n,)` or a batch `(b, n)`; ``us`` is None for zero
    input (then ``n_steps`` defaults to 10,000). ``k`` and ``d0`` are checked
    when given.
    """
    check_params(model, params)
    x0 = jnp.asarray(x0)
    if x0.ndim == 2:
        check_state(model, x0[0], "x0[i]")
    else:
        check_state(model, x0)
    n = model.state_size
    if k is not None and not 1 <= k <= n:
        raise ValueError(f"k must be in [1, {n}] (the state size), got {k}")
    if burn_in < 0:
        raise ValueError(f"burn_in must be >= 0, got {burn_in}")
    if us is None:
        n_steps = 10_000 if n_steps is None else n_steps
        if n_steps < 2:
            raise ValueError(f"n_steps must be >= 2, got {n_steps}")
    else:
        shape = _shape(us)
        if len(shape) != 2 or shape[1] != model.input_size:
            raise ValueError(
                f"us must have shape (burn_in + n_steps, {model.input_size}), "
                f"got {shape}"
            )
        n_steps = shape[0] - burn_in if n_steps is None else n_steps
        if n_steps < 2 or burn_in + n_steps > shape[0]:
            raise ValueError(
                f"us holds {shape[0]} steps: too few for burn_in={burn_in} and at "
                f"least 2 measured steps (n_steps={n_steps})"
            )
    if d0 is not None and not d0 > 0:
        raise ValueError(f"d0 must be positive, got {d0}")
    return n_steps


def check_attractor_args(
    model: Model,
    params: Params,
    x0: object,
    u: object | None,
    *,
    n_steps: int,
    burn_in: int,
    max_period: int,
) -> None:
    """Check the arguments of `classify_attractor`."""
    check_params(model, params)
    check_state(model, x0)
    if u is not None and _shape(u) != (model.input_size,):
        raise ValueError(f"u must have shape ({model.input_size},), got {_shape(u)}")
    if n_steps <= max_period or max_period < 1:
        raise ValueError(
            f"need n_steps > max_period >= 1, got n_steps={n_steps}, "
            f"max_period={max_period}"
        )
    if burn_in < 0:
        raise ValueError(f"burn_in must be >= 0, got {burn_in}")


# --- Entropy ----------------------------------------------------------------


def check_samples(samples: object, k: int, chunk_size: int, name: str) -> int:
    """Raise ValueError unless ``samples`` is `(M, d)` with M > k; return M."""
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}")
    shape = _shape(samples)
    if len(shape) != 2 or shape[1] < 1:
        raise ValueError(f"{name} must have shape (M, d) with d >= 1, got {shape}")
    if shape[0] <= k:
        raise ValueError(
            f"{name} needs more than k = {k} points (M, d), got shape {shape}"
        )
    return shape[0]


def check_ensemble_args(
    model: Model,
    params: Params,
    x0s: object,
    us: object,
    *,
    k: int,
    tol: Any,
    chunk_size: int,
) -> None:
    """Check the arguments of `ensemble_entropy`."""
    check_params(model, params)
    shape = _shape(x0s)
    if len(shape) != 2 or shape[1] != model.state_size:
        raise ValueError(f"x0s must have shape (M, {model.state_size}), got {shape}")
    check_samples(x0s, k, chunk_size, "x0s")
    check_inputs(model, us)
    if not tol >= 0:
        raise ValueError(f"tol must be >= 0, got {tol!r}")
