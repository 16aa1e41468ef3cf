r"""Jacobians along a trajectory and the forward sensitivities (S1)/(S2).

With θ flattened to a vector of size P (`jax.flatten_util.ravel_pytree`),

.. math::
    A_t = ∂f/∂x,\ B_t = ∂f/∂θ,\ C_t = ∂g/∂x,\ F_t = ∂g/∂θ \text{ at } (x_t, u_t; θ),

    D_{t+1} = A_t D_t + B_t,\ D_0 = 0,\qquad J_t = C_t D_t + F_t \quad (S1),

    ∇V = Σ_t w_t J_tᵀ l'(ŷ_t, y_t) \quad (S2),

where w_t is the weight of step t in V (1/N, or 1/(N - b) after a burn-in b).
D_t = ∂x_t/∂θ and J_t = ∂ŷ_t/∂θ. `reverse_gradient` is BPTT (`jax.grad`) of the
same cost; both must agree to rounding error.
"""

from __future__ import annotations

import functools as ft
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Float

from ._losses import LossFn
from ._simulate import Trajectory, _cost, _rollout, step_weights
from ._types import Input, Inputs, Params, State, Targets
from ._validate import (
    check_cost_args,
    check_params,
    check_trajectory_args,
    like_params,
    promote,
)
from .models._base import Model


class Jacobians(NamedTuple):
    """Jacobians of f and g with respect to the state and the flat parameters.

    Attributes:
        A: ∂f/∂x, shape `(n, n)` (stacked over t: `(N, n, n)`).
        B: ∂f/∂θ, shape `(n, P)` (`(N, n, P)`).
        C: ∂g/∂x, shape `(p, n)` (`(N, p, n)`).
        F: ∂g/∂θ, shape `(p, P)` (`(N, p, P)`).
    """

    A: Float[Array, "*t n n"]
    B: Float[Array, "*t n P"]
    C: Float[Array, "*t p n"]
    F: Float[Array, "*t p P"]


class Sensitivities(NamedTuple):
    """The forward sensitivities of (S1).

    Attributes:
        D: D_t = ∂x_t/∂θ for t = 0 ... N-1 (D_0 = 0), shape `(N, n, P)`.
        J: J_t = ∂ŷ_t/∂θ, shape `(N, p, P)`.
    """

    D: Float[Array, "t n P"]
    J: Float[Array, "t p P"]


def _flat_maps(model: Model, params: Params):
    """Return θ as a flat vector and f, g as functions of (θ_flat, x, u)."""
    theta, unravel = ravel_pytree(params)

    def f(th, x, u):
        return model.f(unravel(th), x, u)

    def g(th, x, u):
        return model.g(unravel(th), x, u)

    return theta, unravel, f, g


@ft.partial(jax.jit, static_argnums=0)
def step_jacobians(model: Model, params: Params, x: State, u: Input) -> Jacobians:
    """Return A, B, C, F at one point (x, u; θ), by `jax.jacfwd`.

    Args:
        model: The model.
        params: Parameters of ``model``; flattened with ``ravel_pytree``.
        x: State, shape `(n,)`.
        u: Input, shape `(m,)`.

    Returns:
        `Jacobians` with A `(n, n)`, B `(n, P)`, C `(p, n)`, F `(p, P)`.
    """
    params, x, u = promote(params, x, u)
    theta, _, f, g = _flat_maps(model, params)
    A, B = jax.jacfwd(f, argnums=(1, 0))(theta, x, u)
    C, F = jax.jacfwd(g, argnums=(1, 0))(theta, x, u)
    return Jacobians(A, B, C, F)


def jacobians(model: Model, params: Params, x0: State, us: Inputs) -> Jacobians:
    """Return A_t, B_t, C_t, F_t along the trajectory from ``x0``, stacked over t.

    Args:
        model: The model.
        params: Parameters of ``model``.
        x0: Initial state, shape `(n,)`.
        us: Inputs, shape `(N, m)`.

    Returns:
        `Jacobians` with shapes `(N, n, n)`, `(N, n, P)`, `(N, p, n)`, `(N, p, P)`,
        evaluated at (x_t, u_t) for t = 0 ... N-1.
    """
    check_trajectory_args(model, params, x0, us)
    return _jacobians(model, *promote(params, x0, us))


@ft.partial(jax.jit, static_argnums=0)
def _jacobians(model: Model, params: Params, x0: State, us: Inputs) -> Jacobians:
    states = _rollout(model, params, x0, us).states
    return jax.vmap(lambda x, u: step_jacobians(model, params, x, u))(states, us)


def _jacobian_theta(fn, theta, x, u, n_out: int):
    """∂fn/∂θ with the cheaper AD mode: n_out vjps if n_out < P, else P jvps."""
    mode = jax.jacrev if n_out < theta.shape[0] else jax.jacfwd
    return mode(fn, argnums=0)(theta, x, u)


def forward_sensitivities(
    model: Model, params: Params, x0: State, us: Inputs
) -> Sensitivities:
    """Run the recursion (S1) inside `lax.scan` and return D_t and J_t.

    Memory grows as N·(n + p)·P; for the gradient alone use `forward_gradient`,
    which carries only D_t.

    Args:
        model: The model.
        params: Parameters of ``model``.
        x0: Initial state, shape `(n,)`; it does not depend on θ, so D_0 = 0.
        us: Inputs, shape `(N, m)`.

    Returns:
        `Sensitivities` with D `(N, n, P)` and J `(N, p, P)`.
    """
    check_trajectory_args(model, params, x0, us)
    return _forward_sensitivities(model, *promote(params, x0, us))


@ft.partial(jax.jit, static_argnums=0)
def _forward_sensitivities(
    model: Model, params: Params, x0: State, us: Inputs
) -> Sensitivities:
    theta, _, f, g = _flat_maps(model, params)

    def step(carry, u):
        x, D = carry
        A = jax.jacfwd(f, argnums=1)(theta, x, u)
        B = _jacobian_theta(f, theta, x, u, model.state_size)
        C = jax.jacfwd(g, argnums=1)(theta, x, u)
        F = _jacobian_theta(g, theta, x, u, model.output_size)
        return (f(theta, x, u), A @ D + B), (D, C @ D + F)

    D0 = jnp.zeros((model.state_size, theta.shape[0]), theta.dtype)
    _, (D, J) = jax.lax.scan(step, (x0, D0), us)
    return Sensitivities(D=D, J=J)


def forward_gradient(
    model: Model,
    params: Params,
    x0: State,
    us: Inputs,
    ys: Targets,
    *,
    loss: str | LossFn = "mse",
    burn_in: int = 0,
    last_only: bool = False,
) -> Params:
    r"""Compute ∇V by forward sensitivities, (S1) then (S2), in one `lax.scan`.

    Carries D_t (materialising A_t and B_t each step) and accumulates
    J_tᵀ l'_t = D_tᵀ (C_tᵀ l'_t) + F_tᵀ l'_t, the two products taken as one
    vector-Jacobian product of g. Cost per step O(n²P); memory O(nP),
    independent of N. Same arguments as `cost`.

    Returns:
        The gradient, a pytree shaped like ``params``.
    """
    loss_fn = check_cost_args(
        model, params, x0, us, ys, loss=loss, burn_in=burn_in, last_only=last_only
    )
    grad = _forward_gradient(
        model, *promote(params, x0, us, ys), loss_fn, burn_in, last_only
    )
    return like_params(grad, params)


@ft.partial(jax.jit, static_argnums=(0, 5, 6, 7))
def _forward_gradient(
    model: Model,
    params: Params,
    x0: State,
    us: Inputs,
    ys: Targets,
    loss_fn: LossFn,
    burn_in: int,
    last_only: bool,
) -> Params:
    theta, unravel, f, g = _flat_maps(model, params)
    n_steps = us.shape[0]
    weights = step_weights(n_steps, burn_in, last_only, theta.dtype)
    targets = jnp.broadcast_to(ys, (n_steps, *jnp.shape(ys))) if last_only else ys

    def step(carry, inp):
        x, D, grad = carry
        u, y, w = inp
        y_hat, g_vjp = jax.vjp(lambda th, xx: g(th, xx, u), theta, x)
        # (S2): l' weighted by w_t; a zero weight must not let a NaN through.
        l_prime = jnp.where(w > 0, w * jax.grad(loss_fn)(y_hat, y), 0.0)
        Ft_l, Ct_l = g_vjp(l_prime.astype(y_hat.dtype))
        grad = grad + D.T @ Ct_l + Ft_l
        # (S1)
        A = jax.jacfwd(f, argnums=1)(theta, x, u)
        B = _jacobian_theta(f, theta, x, u, model.state_size)
        return (f(theta, x, u), A @ D + B, grad), None

    D0 = jnp.zeros((model.state_size, theta.shape[0]), theta.dtype)
    (_, _, grad), _ = jax.lax.scan(
        step, (x0, D0, jnp.zeros_like(theta)), (us, targets, weights)
    )
    return unravel(grad)


def reverse_gradient(
    model: Model,
    params: Params,
    x0: State,
    us: Inputs,
    ys: Targets,
    *,
    loss: str | LossFn = "mse",
    burn_in: int = 0,
    last_only: bool = False,
) -> Params:
    """Compute ∇V by reverse mode (BPTT), `jax.grad` of `cost`.

    Same arguments as `cost`.

    Returns:
        The gradient, a pytree shaped like ``params``.
    """
    loss_fn = check_cost_args(
        model, params, x0, us, ys, loss=loss, burn_in=burn_in, last_only=last_only
    )
    grad = _reverse_gradient(
        model, *promote(params, x0, us, ys), loss_fn, burn_in, last_only
    )
    return like_params(grad, params)


_reverse_gradient = jax.jit(jax.grad(_cost, argnums=1), static_argnums=(0, 5, 6, 7))


def directional_sensitivity(
    model: Model, params: Params, x0: State, us: Inputs, direction: Params
) -> Trajectory:
    """Return D_t v and J_t v for a parameter direction v, matrix-free.

    One `jax.jvp` through the scan: the cost of about two simulations, never
    forming A_t or D_t. Power iteration for Lipschitz constants builds on it.

    Args:
        model: The model.
        params: Parameters of ``model``.
        x0: Initial state, shape `(n,)`.
        us: Inputs, shape `(N, m)`.
        direction: Tangent v, a pytree shaped like ``params``.

    Returns:
        A `Trajectory` whose ``states`` are D_t v `(N, n)` and ``outputs`` are
        J_t v `(N, p)`.
    """
    check_trajectory_args(model, params, x0, us)
    check_params(model, direction)
    return _directional_sensitivity(model, *promote(params, x0, us, direction))


@ft.partial(jax.jit, static_argnums=0)
def _directional_sensitivity(
    model: Model, params: Params, x0: State, us: Inputs, direction: Params
) -> Trajectory:
    _, tangent = jax.jvp(lambda p: _rollout(model, p, x0, us), (params,), (direction,))
    return tangent
