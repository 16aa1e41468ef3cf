"""Simulation of Eq. (1) by `jax.lax.scan`, and the cost V of Eq. (2)."""

from __future__ import annotations

import functools as ft
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._losses import LossFn
from ._types import Inputs, Outputs, Params, State, States, Targets
from ._validate import check_cost_args, check_memory, check_trajectory_args, promote
from .models._base import Model


class Trajectory(NamedTuple):
    r"""A simulated trajectory of x_{t+1} = f(x_t, u_t), ŷ_t = g(x_t, u_t).

    ``states[t]`` is x_t, the state *before* reading ``inputs[t]`` (so
    ``states[0]`` is x_0), and ``outputs[t] = g(x_t, u_t)``, exactly as in
    Eq. (1). Every module of rnn_dyn uses this convention.

    The dtype rule, the same for every public function of a model: params,
    states, inputs and float targets are cast to the widest float dtype among
    them (float32 params with a float64 ``x0`` compute in float64, and the
    results are float64); integer class labels are left alone; gradients come
    back in the dtype of the params, as from `jax.grad`.

    Attributes:
        states: x_0 ... x_{N-1}, shape `(N, n)`.
        outputs: ŷ_0 ... ŷ_{N-1}, shape `(N, p)`.
    """

    states: States
    outputs: Outputs


@ft.partial(jax.jit, static_argnums=0)
def _rollout(model: Model, params: Params, x0: State, us: Inputs) -> Trajectory:
    # jit with the (hashable) model static, so repeated eager calls reuse one
    # compiled scan; inside a caller's jit or vmap it is simply inlined.
    def step(x: State, u: Float[Array, " m"]) -> tuple[State, tuple[State, Array]]:
        return model.f(params, x, u), (x, model.g(params, x, u))

    # Rematerialise each step in reverse mode instead of storing every gate
    # activation: on CPU this makes BPTT faster (fewer, larger kernels) and its
    # memory O(N n) instead of O(N · gates). The forward pass is unchanged.
    step = jax.checkpoint(step, prevent_cse=False)
    _, (states, outputs) = jax.lax.scan(step, x0, us)
    return Trajectory(states=states, outputs=outputs)


def simulate(model: Model, params: Params, x0: State, us: Inputs) -> Trajectory:
    """Simulate the model from ``x0`` under the inputs ``us`` with `jax.lax.scan`.

    One trajectory and one parameter set; batch with `jax.vmap` over ``x0``,
    ``us`` or ``params``.

    Args:
        model: The model.
        params: Parameters of ``model``.
        x0: Initial state, shape `(n,)`.
        us: Inputs, shape `(N, m)`; use ``jnp.zeros((N, 0))`` for an autonomous
            system.

    Returns:
        A `Trajectory` of states `(N, n)` and outputs `(N, p)`; it unpacks as
        ``xs, ys = simulate(...)``.

    Raises:
        ValueError: If a shape of ``params``, ``x0`` or ``us`` does not fit
            ``model``, or the trajectory cannot fit in the free memory.
    """
    n_steps = check_trajectory_args(model, params, x0, us)
    params, x0, us = promote(params, x0, us)
    n_values = n_steps * (model.state_size + model.output_size)
    check_memory(
        n_values, x0.dtype, "the trajectory's states and outputs", on_device=True
    )
    return _rollout(model, params, x0, us)


def step_weights(
    n_steps: int, burn_in: int, last_only: bool, dtype
) -> Float[Array, " t"]:
    """Return the weight of each step's loss in V: 1/(N - burn_in) after burn-in."""
    t = jnp.arange(n_steps)
    if last_only:
        return (t == n_steps - 1).astype(dtype)
    return jnp.where(t >= burn_in, 1.0 / (n_steps - burn_in), 0.0).astype(dtype)


def cost(
    model: Model,
    params: Params,
    x0: State,
    us: Inputs,
    ys: Targets,
    *,
    loss: str | LossFn = "mse",
    burn_in: int = 0,
    last_only: bool = False,
) -> Float[Array, ""]:
    r"""Evaluate the cost of Eq. (2), V = 1/(N - b) Σ_{t ≥ b} l(ŷ_t, y_t).

    Args:
        model: The model.
        params: Parameters of ``model``.
        x0: Initial state, shape `(n,)`.
        us: Inputs, shape `(N, m)`.
        ys: Targets: shape `(N, p)` for ``"mse"``/``"bce_with_logits"``, integer
            classes of shape `(N,)` for ``"cross_entropy"``; without the leading
            `N` when ``last_only``.
        loss: ``"mse"`` (‖ŷ - y‖², summed over outputs), ``"bce_with_logits"``,
            ``"cross_entropy"``, or a callable ``l(ŷ_t, y_t) -> scalar``.
            (Keyword only.)
        burn_in: Number ``b`` of leading steps left out of the mean, as the
            chaotic LSTM example drops its first 100 samples. Defaults to 0.
            (Keyword only.)
        last_only: Use only the last step's loss (sequence classification).
            (Keyword only.)

    Returns:
        The scalar cost; NaN or inf where the trajectory overflows.

    Raises:
        ValueError: If a shape does not fit, or ``burn_in`` is out of range.
    """
    loss_fn = check_cost_args(
        model, params, x0, us, ys, loss=loss, burn_in=burn_in, last_only=last_only
    )
    return _cost(model, *promote(params, x0, us, ys), loss_fn, burn_in, last_only)


@ft.partial(jax.jit, static_argnums=(0, 5, 6, 7))
def _cost(
    model: Model,
    params: Params,
    x0: State,
    us: Inputs,
    ys: Targets,
    loss_fn: LossFn,
    burn_in: int,
    last_only: bool,
) -> Float[Array, ""]:
    if last_only:
        # Only x_{N-1} is needed: step f alone, then read g once.
        step = jax.checkpoint(lambda x, u: (model.f(params, x, u), None))
        x_last, _ = jax.lax.scan(step, x0, us[:-1])
        return loss_fn(model.g(params, x_last, us[-1]), ys)
    outputs = _rollout(model, params, x0, us).outputs
    return jnp.mean(jax.vmap(loss_fn)(outputs[burn_in:], ys[burn_in:]))
