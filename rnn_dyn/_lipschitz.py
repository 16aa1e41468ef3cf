r"""Lipschitz constants by power iteration on Jacobians, never forming them.

`power_iteration` estimates the largest singular value σ₁ of a linear map J
given only as a Jacobian-vector product (v ↦ Jv) and a vector-Jacobian product
(w ↦ Jᵀw), iterating v ← JᵀJv/‖JᵀJv‖, so JᵀJ is never built. The estimates
below are maxima of σ₁ over points the caller chooses (a trajectory, an
attractor, samples in a box): a maximum over samples is a *lower bound* on the
supremum that defines a Lipschitz constant, never an upper bound.
"""

from __future__ import annotations

import functools as ft
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Float

from ._losses import LossFn
from ._simulate import _rollout
from ._types import Inputs, Params, State
from ._validate import (
    check_cost_smoothness_args,
    check_points,
    check_trajectory_lipschitz_args,
    promote,
)
from .models._base import Model


class PowerIterationResult(NamedTuple):
    """Result of `power_iteration`.

    Attributes:
        sigma: Estimate of the largest singular value σ₁ (the spectral norm).
        u: Left singular vector, J v / σ₁, shaped like the output of J.
        v: Right singular vector (unit norm), shaped like the input of J.
        history: σ estimate after each iteration, shape `(num_iters,)`; NaN
            after an early stop on ``tol``.
        iterations: Number of iterations made.
    """

    sigma: Float[Array, ""]
    u: Any
    v: Any
    history: Float[Array, " k"]
    iterations: Array


def power_iteration(
    jvp_fn: Callable[[Any], Any],
    vjp_fn: Callable[[Any], Any],
    v0: Any,
    *,
    num_iters: int = 100,
    tol: float | None = None,
) -> PowerIterationResult:
    r"""Estimate the spectral norm ‖J‖₂ of a linear map from its jvp and vjp.

    Iterates v ← JᵀJv / ‖JᵀJv‖ and reports σ = ‖Jv‖; the error of v shrinks
    like (σ₂/σ₁)^{2k} and that of σ like (σ₂/σ₁)^{4k}. Inputs and outputs may
    be any pytrees. Jit-able: the loop is a `lax.while_loop` with a static
    bound.

    Args:
        jvp_fn: v ↦ J v.
        vjp_fn: w ↦ Jᵀ w.
        v0: Starting vector (any pytree, not orthogonal to the top singular
            vector; a random one is safe).
        num_iters: Maximum number of iterations. (Keyword only.)
        tol: Stop when successive estimates differ by at most ``tol``·σ.
            Defaults to None: always ``num_iters`` iterations. (Keyword only.)

    Returns:
        A `PowerIterationResult`.
    """
    flat0, unravel_in = ravel_pytree(v0)
    w0 = jvp_fn(v0)
    _, unravel_out = ravel_pytree(w0)
    matvec = lambda v: ravel_pytree(jvp_fn(unravel_in(v)))[0]
    rmatvec = lambda w: ravel_pytree(vjp_fn(unravel_out(w)))[0]
    tiny = jnp.finfo(flat0.dtype).tiny
    v = flat0 / jnp.maximum(jnp.linalg.norm(flat0), tiny)
    history = jnp.full((num_iters,), jnp.nan, flat0.dtype)
    tolerance = -1.0 if tol is None else tol

    def cond(state):
        k, _, sigma, prev, _ = state
        converged = jnp.abs(sigma - prev) <= tolerance * sigma
        return (k < num_iters) & ~converged

    def body(state):
        k, v, sigma, _, history = state
        z = rmatvec(matvec(v))
        v_new = z / jnp.maximum(jnp.linalg.norm(z), tiny)
        sigma_new = jnp.linalg.norm(matvec(v_new))
        return k + 1, v_new, sigma_new, sigma, history.at[k].set(sigma_new)

    init = (
        jnp.array(0),
        v,
        jnp.linalg.norm(matvec(v)),
        jnp.array(jnp.inf, v.dtype),
        history,
    )
    k, v, sigma, _, history = jax.lax.while_loop(cond, body, init)
    w = matvec(v)
    u = w / jnp.maximum(sigma, tiny)
    return PowerIterationResult(sigma, unravel_out(u), unravel_in(v), history, k)


class JacobianNorms(NamedTuple):
    """Spectral norms of the step Jacobians at each sampled point.

    Attributes:
        f_joint: ‖[A_t B_t]‖₂, f's Jacobian in (x, θ) jointly, shape `(b,)`.
        f_state: ‖A_t‖₂, the state Jacobian that decides the regime, `(b,)`.
        g_joint: ‖[C_t F_t]‖₂, shape `(b,)`.
    """

    f_joint: Float[Array, " b"]
    f_state: Float[Array, " b"]
    g_joint: Float[Array, " b"]

    def max(self) -> JacobianNorms:
        """Return the maxima over the points: lower bounds on L_f, ‖A‖ and L_g."""
        return JacobianNorms(*(jnp.max(a) for a in self))


def _jacobian_power_iteration(fn, primals, key, num_iters, tol=None):
    """Power iteration on ∂fn/∂primals at ``primals`` (a tuple of pytrees)."""
    _, vjp = jax.vjp(fn, *primals)
    v0 = jax.tree_util.tree_map(
        lambda a: jax.random.normal(key, jnp.shape(a), jnp.result_type(a)), primals
    )
    return power_iteration(
        lambda v: jax.jvp(fn, primals, v)[1], vjp, v0, num_iters=num_iters, tol=tol
    )


def _joint_norm(fn, primals, key, num_iters, tol):
    """‖∂fn/∂primals‖₂ at ``primals``, matrix-free."""
    return _jacobian_power_iteration(fn, primals, key, num_iters, tol).sigma


def jacobian_norms(
    model: Model,
    params: Params,
    xs: Float[Array, "b n"],
    us: Float[Array, "b m"],
    *,
    key: Any,
    num_iters: int = 50,
    tol: float | None = None,
) -> JacobianNorms:
    r"""Return ‖[A B]‖₂, ‖A‖₂ and ‖[C F]‖₂ at each point (x_i, u_i), matrix-free.

    The maxima over the points (`JacobianNorms.max`) estimate L_f, the
    regime-deciding ‖A‖ and L_g of Theorem 1 from below: a maximum over
    samples is a lower bound on the supremum over Ω.

    Args:
        model: The model.
        params: Parameters of ``model``.
        xs: States at which to evaluate, shape `(b, n)` (a trajectory, an
            attractor after burn-in, or samples in a box).
        us: The matching inputs, shape `(b, m)`.
        key: PRNG key for the starting vectors. (Keyword only.)
        num_iters: Power iterations per norm. (Keyword only.)
        tol: Stop a power iteration early once successive estimates differ by
            at most ``tol``·σ (`power_iteration`); None runs ``num_iters``.
            (Keyword only.)

    Returns:
        A `JacobianNorms` of per-point norms, each of shape `(b,)`.
    """
    check_points(model, params, xs, us)
    params, xs, us = promote(params, xs, us)
    return _jacobian_norms(model, params, xs, us, key, num_iters, tol)


@ft.partial(jax.jit, static_argnums=(0, 5, 6))
def _jacobian_norms(model, params, xs, us, key, num_iters, tol):
    def one(x, u, k):
        k1, k2, k3 = jax.random.split(k, 3)
        norm = ft.partial(_joint_norm, num_iters=num_iters, tol=tol)
        f_joint = norm(lambda x, p: model.f(p, x, u), (x, params), k1)
        f_state = norm(lambda x: model.f(params, x, u), (x,), k2)
        g_joint = norm(lambda x, p: model.g(p, x, u), (x, params), k3)
        return JacobianNorms(f_joint, f_state, g_joint)

    keys = jax.random.split(key, xs.shape[0])
    return jax.vmap(one)(xs, us, keys)


def trajectory_lipschitz(
    model: Model,
    params: Params,
    x0: State,
    us: Inputs,
    *,
    key: Any,
    wrt: str = "both",
    num_iters: int = 100,
    tol: float | None = None,
) -> PowerIterationResult:
    r"""Return ‖∂ŷ_{0:N-1}/∂(θ, x0)‖₂, the local Lipschitz constant of the outputs.

    Power iteration through `simulate` with `jax.jvp` and `jax.vjp`: each
    iteration costs about one forward and one reverse pass, and no Jacobian
    is formed. It is the local constant at (θ, x0); the supremum over a region
    is at least as large.

    Args:
        model: The model.
        params: Parameters θ.
        x0: Initial state, shape `(n,)`.
        us: Inputs, shape `(N, m)`.
        key: PRNG key for the starting vector. (Keyword only.)
        wrt: ``"both"`` (θ and x0 jointly, as in (S10)), ``"params"`` or
            ``"x0"``. (Keyword only.)
        num_iters: Power iterations. (Keyword only.)
        tol: Stop early once successive estimates differ by at most
            ``tol``·σ; None runs ``num_iters`` (`power_iteration`).
            (Keyword only.)

    Returns:
        A `PowerIterationResult`; ``sigma`` is the constant.
    """
    check_trajectory_lipschitz_args(model, params, x0, us, wrt=wrt)
    params, x0, us = promote(params, x0, us)
    return _trajectory_lipschitz(model, params, x0, us, key, wrt, num_iters, tol)


@ft.partial(jax.jit, static_argnums=(0, 5, 6, 7))
def _trajectory_lipschitz(model, params, x0, us, key, wrt, num_iters, tol):
    if wrt == "both":
        fn = lambda p, x: _rollout(model, p, x, us).outputs
        primals = (params, x0)
    elif wrt == "params":
        fn = lambda p: _rollout(model, p, x0, us).outputs
        primals = (params,)
    else:
        fn = lambda x: _rollout(model, params, x, us).outputs
        primals = (x0,)
    return _jacobian_power_iteration(fn, primals, key, num_iters, tol)


class CostSmoothness(NamedTuple):
    """Empirical Lipschitz constants of V and ∇V for each sequence length.

    Both are maxima over samples of a ball around (θ, x0): lower bounds on the
    constants over the ball, to compare with the upper bounds of Theorem 1.

    Attributes:
        lengths: Sequence lengths N, shape `(k,)`.
        L_V: max ‖∇V‖ over the samples (and their ascent iterates), `(k,)`.
        L_V_grad: max ‖∇²V‖₂ over the samples (and their ascent iterates), `(k,)`.
    """

    lengths: Array
    L_V: Array
    L_V_grad: Array


def cost_smoothness(
    model: Model,
    params: Params,
    x0: State,
    us: Inputs,
    ys: Array,
    *,
    lengths: tuple[int, ...],
    radius: float,
    num_samples: int,
    key: Any,
    loss: str = "mse",
    ascent_steps: int = 5,
    num_iters: int = 20,
) -> CostSmoothness:
    r"""Measure the Lipschitz constants of V and ∇V in a ball, for each N.

    For each N in ``lengths``, V_N is the cost of the first N steps, as a
    function of z = (θ, x0) jointly (as in Theorem 1). Samples are drawn
    uniformly in the ball ‖z - z₀‖ ≤ ρ; at each, ‖∇V_N‖ is sharpened by a few
    normalised ascent steps along ∇(½‖∇V‖²) = ∇²V ∇V (projected back onto the
    ball); ‖∇²V_N‖₂ is found by power iteration on Hessian-vector products
    (forward over reverse) and sharpened the same way, by ascent steps along
    the gradient of |vᵀ∇²V v| at the top singular vector v (reverse over
    forward over reverse). Everything is vmapped over the samples. One
    compiled kernel serves every N: it simulates max(lengths) steps and
    counts the first N, so a trajectory that overflows after step N turns
    the estimate for N into NaN as well (reported, not hidden).

    Args:
        model: The model.
        params: Parameters θ at the centre of the ball.
        x0: Initial state at the centre, shape `(n,)`.
        us: Inputs, shape `(N_max, m)` with N_max ≥ max(lengths).
        ys: Targets, shape `(N_max, p)`.
        lengths: Sequence lengths N. (Keyword only.)
        radius: Ball radius ρ > 0. (Keyword only.)
        num_samples: Samples per length. (Keyword only.)
        key: PRNG key. (Keyword only.)
        loss: ``"mse"`` or ``"bce_with_logits"``. (Keyword only.)
        ascent_steps: Ascent steps on ‖∇V‖, and on ‖∇²V‖₂, per sample. (Keyword only.)
        num_iters: Power iterations for ‖∇²V‖₂. (Keyword only.)

    Returns:
        A `CostSmoothness`.

    Raises:
        ValueError: For empty or too long ``lengths``, ``radius ≤ 0``, or bad shapes.
    """
    loss_fn = check_cost_smoothness_args(
        model, params, x0, us, ys, lengths=lengths, radius=radius, loss=loss
    )
    params, x0, us, ys = promote(params, x0, us, ys)
    return _cost_smoothness(
        model,
        params,
        x0,
        us,
        ys,
        loss_fn,
        lengths,
        radius,
        num_samples,
        key,
        ascent_steps,
        num_iters,
    )


def _cost_smoothness(
    model: Model,
    params: Params,
    x0: State,
    us: Inputs,
    ys: Array,
    loss_fn: LossFn,
    lengths: tuple[int, ...],
    radius: float,
    num_samples: int,
    key: Any,
    ascent_steps: int,
    num_iters: int,
) -> CostSmoothness:
    """`cost_smoothness` on checked arguments, with the step loss ``loss_fn``."""
    results = []
    n_max = max(lengths)
    dtype = ravel_pytree((params, x0))[0].dtype
    # One kernel for every N (V_N masks the steps from N on, so only one
    # compilation), and the same key, hence the same samples, for every N:
    # the curve over N is then no noisier than the quantity it measures.
    for n in lengths:
        results.append(
            _cost_smoothness_at(
                model,
                params,
                x0,
                us[:n_max],
                ys[:n_max],
                jnp.asarray(n, dtype),
                key,
                float(radius),
                num_samples,
                loss_fn,
                ascent_steps,
                num_iters,
            )
        )
    L_V, L_V_grad = (jnp.stack(r) for r in zip(*results, strict=True))
    return CostSmoothness(jnp.asarray(lengths), L_V, L_V_grad)


@ft.partial(jax.jit, static_argnums=(0, 8, 9, 10, 11))
def _cost_smoothness_at(
    model,
    params,
    x0,
    us,
    ys,
    n,
    key,
    radius,
    num_samples,
    loss_fn,
    ascent_steps,
    num_iters,
):
    z0, unravel = ravel_pytree((params, x0))
    first_n = jnp.arange(us.shape[0], dtype=n.dtype) < n

    def V(z):
        """The cost of the first n steps: later steps are stepped, not counted.

        A step from n on sees the zero state instead of x_t, so a tail that
        overflows (a chaotic model over n_max steps) cannot leak NaN into
        the gradient of a finite V_n: ``0 * inf`` in its reverse pass would.
        """
        params, x0 = unravel(z)

        def step(x, inputs):
            counted, u, y = inputs
            x = jnp.where(counted, x, jnp.zeros_like(x))
            loss = jnp.where(counted, loss_fn(model.g(params, x, u), y), 0)
            return model.f(params, x, u), loss

        step = jax.checkpoint(step, prevent_cse=False)  # as in simulate
        _, losses = jax.lax.scan(step, x0, (first_n, us, ys))
        return jnp.sum(losses) / n

    grad = jax.grad(V)
    hvp = lambda z, v: jax.jvp(grad, (z,), (v,))[1]

    def project(z):
        d = z - z0
        return z0 + d * jnp.minimum(
            1.0, radius / jnp.maximum(jnp.linalg.norm(d), 1e-300)
        )

    def step(z, direction):
        """A step of 0.1 ρ along ``direction``, projected back onto the ball."""
        unit = direction / jnp.maximum(jnp.linalg.norm(direction), 1e-300)
        return project(z + 0.1 * radius * unit)

    def grad_ascent(carry, _):
        z, best = carry
        g = grad(z)
        return (step(z, hvp(z, g)), jnp.maximum(best, jnp.linalg.norm(g))), None

    def hess_norm(z, v):
        hv = lambda w: hvp(z, w)
        res = power_iteration(hv, hv, v, num_iters=num_iters)
        return res.sigma, res.v

    def hess_ascent(carry, _):
        # σ(z) = |vᵀ∇²V(z)v| at the top singular vector v (∇²V is symmetric),
        # so d σ / dz = sign(q) ∇_z q with q = vᵀ∇²V(z)v: one reverse pass
        # through the Hessian-vector product (third derivatives of V).
        z, v, best = carry
        sigma, v = hess_norm(z, v)
        q, dq = jax.value_and_grad(lambda z: jnp.vdot(v, hvp(z, v)))(z)
        return (step(z, jnp.sign(q) * dq), v, jnp.maximum(best, sigma)), None

    def one(k):
        k1, k2, k3 = jax.random.split(k, 3)
        d = jax.random.normal(k1, z0.shape, z0.dtype)
        r = radius * jax.random.uniform(k2, (), z0.dtype) ** (1 / z0.size)
        z = z0 + r * d / jnp.linalg.norm(d)
        zero = jnp.zeros((), z0.dtype)
        (z_end, best_g), _ = jax.lax.scan(
            grad_ascent, (z, zero), None, length=ascent_steps
        )
        best_g = jnp.maximum(best_g, jnp.linalg.norm(grad(z_end)))
        v0 = jax.random.normal(k3, z0.shape, z0.dtype)
        (z_end, v, best_h), _ = jax.lax.scan(
            hess_ascent, (z, v0, zero), None, length=ascent_steps
        )
        return best_g, jnp.maximum(best_h, hess_norm(z_end, v)[0])

    best, hess = jax.vmap(one)(jax.random.split(key, num_samples))
    return jnp.max(best), jnp.max(hess)


def _second_derivative_norm(fn, z, key, num_iters, alternations):
    r"""max_{‖a‖=‖b‖=1} ‖D²fn(z)[a, b]‖, by alternating power iteration.

    For fixed a, b ↦ D²fn(z)[a, b] is linear (the directional derivative of
    the Jacobian along a); its top singular vector gives the best b, and by
    symmetry of D²fn the roles then swap. The result is the local Lipschitz
    constant of the Jacobian z ↦ Dfn(z) in the spectral norm.
    """
    ka, kb = jax.random.split(key)
    a = jax.random.normal(ka, z.shape, z.dtype)
    a = a / jnp.linalg.norm(a)
    b = jax.random.normal(kb, z.shape, z.dtype)

    def along(a):
        d_jac = lambda y: jax.jvp(fn, (y,), (a,))[1]  # y ↦ Dfn(y)[a]
        _, vjp = jax.vjp(d_jac, z)
        return lambda v: jax.jvp(d_jac, (z,), (v,))[1], lambda w: vjp(w)[0]

    def alternate(carry, _):
        a, b = carry
        res = power_iteration(*along(a), b, num_iters=num_iters)
        return (res.v, a), res.sigma

    _, sigmas = jax.lax.scan(alternate, (a, b), None, length=alternations)
    return sigmas[-1]


def jacobian_lipschitz(
    model: Model,
    params: Params,
    xs: Float[Array, "b n"],
    us: Float[Array, "b m"],
    *,
    key: Any,
    num_iters: int = 30,
    alternations: int = 10,
) -> tuple[Float[Array, " b"], Float[Array, " b"]]:
    r"""Return local Lipschitz constants of f's and g's Jacobians at each point.

    L'_f and L'_g of Theorem 1 bound ‖[A B](z) - [A B](w)‖₂ ≤ L'_f ‖z - w‖ with
    z = (x, θ). Locally that is max_{‖a‖=‖b‖=1} ‖D²f(z)[a, b]‖, found by
    alternating power iteration on second directional derivatives (jvp of
    jvp and its vjp); the maxima over points are lower bounds on L'_f, L'_g.

    Args:
        model: The model.
        params: Parameters of ``model``.
        xs: States, shape `(b, n)`.
        us: Inputs, shape `(b, m)`.
        key: PRNG key. (Keyword only.)
        num_iters: Power iterations per alternation. (Keyword only.)
        alternations: Alternations between the two directions. (Keyword only.)

    Returns:
        ``(lip_df, lip_dg)``, each of shape `(b,)`.
    """
    check_points(model, params, xs, us)
    params, xs, us = promote(params, xs, us)
    return _jacobian_lipschitz(model, params, xs, us, key, num_iters, alternations)


@ft.partial(jax.jit, static_argnums=(0, 5, 6))
def _jacobian_lipschitz(model, params, xs, us, key, num_iters, alternations):
    def one(x, u, k):
        z, unravel = ravel_pytree((x, params))
        f = lambda z: model.f(unravel(z)[1], unravel(z)[0], u)
        g = lambda z: model.g(unravel(z)[1], unravel(z)[0], u)
        k1, k2 = jax.random.split(k)
        return (
            _second_derivative_norm(f, z, k1, num_iters, alternations),
            _second_derivative_norm(g, z, k2, num_iters, alternations),
        )

    return jax.vmap(one)(xs, us, jax.random.split(key, xs.shape[0]))
