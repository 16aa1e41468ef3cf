import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import chaotic, random_problem
from jax.flatten_util import ravel_pytree

import rnn_dyn as rd


def _matrix_case(key, shape, rank=None):
    k1, k2 = jax.random.split(key)
    if rank is None:
        return jax.random.normal(k1, shape)
    return jax.random.normal(k1, (shape[0], rank)) @ jax.random.normal(
        k2, (rank, shape[1])
    )


@pytest.mark.parametrize(
    "shape, rank", [((5, 8), None), ((9, 3), None), ((6, 7), 2), ((4, 4), 1)]
)
@pytest.mark.parametrize("transform", [lambda f: f, jax.jit], ids=["plain", "jit"])
def test_power_iteration_equals_dense_spectral_norm(shape, rank, transform, getkey):
    J = _matrix_case(getkey(), shape, rank)
    v0 = jax.random.normal(getkey(), (shape[1],))
    run = transform(
        lambda J, v0: rd.power_iteration(
            lambda v: J @ v, lambda w: J.T @ w, v0, num_iters=500
        )
    )
    result = run(J, v0)
    np.testing.assert_allclose(
        result.sigma, np.linalg.norm(np.asarray(J), 2), rtol=1e-8
    )
    # The singular vectors satisfy J v = σ u and Jᵀ u = σ v.
    np.testing.assert_allclose(
        J @ result.v, result.sigma * result.u, rtol=1e-8, atol=1e-10
    )
    np.testing.assert_allclose(
        J.T @ result.u, result.sigma * result.v, rtol=1e-6, atol=1e-8
    )
    assert result.history.shape == (500,) and int(result.iterations) == 500


def test_power_iteration_tolerance_stops_early_and_pytrees_work(getkey):
    J = _matrix_case(getkey(), (6, 5))
    # Input as a pytree (dict of two blocks), output as a tuple.
    jvp = lambda v: (
        J[:3] @ jnp.concatenate([v["a"], v["b"]]),
        J[3:] @ jnp.concatenate([v["a"], v["b"]]),
    )
    vjp = lambda w: {
        "a": (J.T @ jnp.concatenate(w))[:2],
        "b": (J.T @ jnp.concatenate(w))[2:],
    }
    v0 = {"a": jnp.ones(2), "b": jnp.ones(3)}
    result = rd.power_iteration(jvp, vjp, v0, num_iters=1000, tol=1e-12)
    assert int(result.iterations) < 1000
    assert np.isnan(result.history[-1]) and np.isfinite(result.history[0])
    np.testing.assert_allclose(
        result.sigma, np.linalg.norm(np.asarray(J), 2), rtol=1e-8
    )


def test_power_iteration_on_dense_jacfwd_of_an_lstm_step(getkey):
    model = rd.models.lstm(3, 4, readout=2)
    params, x0, us, _ = random_problem(model, getkey(), 1)
    f = lambda x: model.f(params, x, us[0])
    A = jax.jacfwd(f)(x0)
    _, vjp = jax.vjp(f, x0)
    result = rd.power_iteration(
        lambda v: jax.jvp(f, (x0,), (v,))[1],
        lambda w: vjp(w)[0],
        jnp.ones(8),
        num_iters=500,
    )
    np.testing.assert_allclose(
        result.sigma, np.linalg.norm(np.asarray(A), 2), rtol=1e-8
    )


def test_jacobian_norms_on_linear_model_equal_closed_form(getkey):
    model = rd.models.linear(3, 2, 2)
    params = model.init(getkey())
    xs = jax.random.normal(getkey(), (4, 3))
    us = jax.random.normal(getkey(), (4, 2))
    norms = rd.jacobian_norms(model, params, xs, us, key=getkey(), num_iters=300)
    a, b, c, d = (np.asarray(m) for m in params)
    for i in range(4):
        x, u = np.asarray(xs[i]), np.asarray(us[i])
        # θ = [vec a, vec b, vec c, vec d] row-major: ∂(a x + b u)/∂vec(a) = I ⊗ xᵀ
        B = np.hstack(
            [
                np.kron(np.eye(3), x),
                np.kron(np.eye(3), u),
                np.zeros((3, 6)),
                np.zeros((3, 4)),
            ]
        )
        F = np.hstack(
            [
                np.zeros((2, 9)),
                np.zeros((2, 6)),
                np.kron(np.eye(2), x),
                np.kron(np.eye(2), u),
            ]
        )
        np.testing.assert_allclose(
            norms.f_joint[i], np.linalg.norm(np.hstack([a, B]), 2), rtol=1e-8
        )
        np.testing.assert_allclose(norms.f_state[i], np.linalg.norm(a, 2), rtol=1e-8)
        np.testing.assert_allclose(
            norms.g_joint[i], np.linalg.norm(np.hstack([c, F]), 2), rtol=1e-8
        )
    assert norms.max().f_state == jnp.max(norms.f_state)


def test_trajectory_lipschitz_wrt_x0_on_linear_model_is_observability_norm(getkey):
    model = rd.models.linear(3, 2, 2)
    params, x0, us, _ = random_problem(model, getkey(), 10)
    a, c = np.asarray(params.a), np.asarray(params.c)
    obs = np.vstack(
        [c @ np.linalg.matrix_power(a, t) for t in range(10)]
    )  # ∂ŷ_t/∂x0 = c aᵗ
    result = rd.trajectory_lipschitz(
        model, params, x0, us, key=getkey(), wrt="x0", num_iters=500
    )
    np.testing.assert_allclose(result.sigma, np.linalg.norm(obs, 2), rtol=1e-8)


def test_trajectory_lipschitz_both_equals_dense_jacobian(getkey):
    model, params, x0 = chaotic()
    us = jnp.zeros((15, 0))
    theta, unravel = ravel_pytree(params)
    fn = lambda z: rd.simulate(model, unravel(z[:16]), z[16:], us).outputs.ravel()
    dense = jax.jacrev(fn)(jnp.concatenate([theta, x0]))
    result = rd.trajectory_lipschitz(
        model, params, x0, us, key=getkey(), num_iters=1000
    )
    np.testing.assert_allclose(
        result.sigma, np.linalg.norm(np.asarray(dense), 2), rtol=1e-8
    )
    # With a tolerance it stops early, at the same value.
    early = rd.trajectory_lipschitz(
        model, params, x0, us, key=getkey(), num_iters=1000, tol=1e-13
    )
    assert int(early.iterations) < 1000
    np.testing.assert_allclose(early.sigma, result.sigma, rtol=1e-8)


def test_trajectory_lipschitz_rejects_bad_wrt(getkey):
    model, params, x0 = chaotic()
    with pytest.raises(ValueError, match="wrt must be"):
        rd.trajectory_lipschitz(
            model, params, x0, jnp.zeros((3, 0)), key=getkey(), wrt="u"
        )


@pytest.mark.slow  # 45 s of compiling third derivatives
def test_cost_smoothness_in_a_tiny_ball_equals_dense_gradient_and_hessian(getkey):
    model, params, x0 = chaotic()
    us = jnp.zeros((12, 0))
    ys = rd.simulate(model, params, x0, us).outputs * 1.05
    z0, unravel = ravel_pytree((params, x0))
    lengths = (4, 12)
    ascent = dict(radius=1e-9, num_samples=3, ascent_steps=2, num_iters=300)
    result = rd.cost_smoothness(
        model, params, x0, us, ys, lengths=lengths, key=getkey(), **ascent
    )
    for i, n in enumerate(lengths):
        V = lambda z, n=n: rd.cost(model, *unravel(z), us[:n], ys[:n])
        np.testing.assert_allclose(
            result.L_V[i], np.linalg.norm(jax.grad(V)(z0)), rtol=1e-6
        )
        H = np.asarray(jax.hessian(V)(z0))
        np.testing.assert_allclose(result.L_V_grad[i], np.linalg.norm(H, 2), rtol=1e-6)


@pytest.mark.slow  # 20 s of compiling: the slow tier keeps make test under 15 min
def test_cost_smoothness_max_over_a_ball_is_at_least_the_centre(getkey):
    model = rd.models.rnn(2, 3, readout=1)
    params, x0, us, ys = random_problem(model, getkey(), 10)
    z0, unravel = ravel_pytree((params, x0))
    ball = dict(lengths=(10,), radius=0.5, num_samples=8)
    result = rd.cost_smoothness(model, params, x0, us, ys, key=getkey(), **ball)
    centre = np.linalg.norm(jax.grad(lambda z: rd.cost(model, *unravel(z), us, ys))(z0))
    # Ascent starts from random points and climbs ‖∇V‖: the maximum should
    # not be far below the centre's value on this smooth model.
    assert result.L_V[0] >= 0.9 * centre


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"lengths": ()}, "lengths must be non-empty"),
        ({"lengths": (9,)}, "lengths must be"),
        ({"lengths": (3,), "radius": 0.0}, "radius must be positive"),
    ],
)
def test_cost_smoothness_rejects_bad_arguments(bad, match, getkey):
    model, params, x0 = chaotic()
    us, ys = jnp.zeros((5, 0)), jnp.zeros((5, 2))
    kwargs = {"radius": 1.0, "num_samples": 2, **bad}
    with pytest.raises(ValueError, match=match):
        rd.cost_smoothness(model, params, x0, us, ys, key=getkey(), **kwargs)


def test_jacobian_lipschitz_on_henon_equals_closed_form_and_difference_quotients(
    getkey,
):
    # Hénon: f = (1 - a x₁² + x₂, b x₁); the only curvature is in (x₁, a).
    model = rd.models.henon()
    params = model.init(getkey())
    xs = jnp.array([[0.3, -0.2], [1.1, 0.4]])
    us = jnp.zeros((2, 0))
    lip_df, lip_dg = rd.jacobian_lipschitz(model, params, xs, us, key=getkey())
    for i, x in enumerate(np.asarray(xs)):
        z = np.array([x[0], x[1], 1.4, 0.3])  # (x₁, x₂, a, b)
        # f₁'s Hessian in z = (x₁, x₂, a, b): ∂²/∂x₁² = -2a, ∂²/∂x₁∂a = -2x₁;
        # f₂ = b x₁ has ∂²/∂x₁∂b = 1. T(p, q) = (pᵀ H₁ q, pᵀ H₂ q).
        H1 = np.zeros((4, 4))
        H1[0, 0], H1[0, 2], H1[2, 0] = -2 * z[2], -2 * z[0], -2 * z[0]
        H2 = np.zeros((4, 4))
        H2[0, 3] = H2[3, 0] = 1.0
        # max over unit p, q of ‖(pᵀH₁q, pᵀH₂q)‖: brute force over a fine sphere grid
        rng = np.random.default_rng(0)
        P = rng.normal(size=(20000, 4))
        P /= np.linalg.norm(P, axis=1, keepdims=True)
        # for fixed p the best q gives ‖[H₁p, H₂p]ᵀ‖₂ (a 2×4 matrix norm)
        best = max(np.linalg.norm(np.stack([H1 @ p, H2 @ p]), 2) for p in P)
        np.testing.assert_allclose(lip_df[i], best, rtol=1e-3)
        # difference quotient of the Jacobian along random directions never exceeds it
        jac = jax.jacfwd(
            lambda zz: model.f(params._replace(a=zz[2], b=zz[3]), zz[:2], jnp.zeros(0))
        )
        for _ in range(5):
            d = rng.normal(size=4)
            d /= np.linalg.norm(d)
            q = (
                np.linalg.norm(
                    np.asarray(jac(jnp.array(z + 1e-6 * d)) - jac(jnp.array(z))), 2
                )
                / 1e-6
            )
            assert q <= lip_df[i] * (1 + 1e-4)
    assert np.all(np.asarray(lip_dg) == 0.0)  # g = x₁ is linear


def test_cost_smoothness_ascent_reaches_the_dense_maximum_over_a_disc(getkey):
    # z = (r, x0) is 2-D: the maxima of ‖∇V‖ and ‖∇²V‖₂ over the disc can be
    # found densely on a polar grid, and ascent from a few samples must reach
    # them (and never exceed them: every iterate stays in the disc).
    model = rd.models.logistic(3.3, x0=0.3)
    params = model.init(getkey())
    x0 = model.initial_state(params)
    us = jnp.zeros((6, 0))
    ys = rd.simulate(model, params, x0, us).outputs + 0.2
    radius = 0.05
    ascent = dict(lengths=(6,), radius=radius, num_samples=8, ascent_steps=20)
    result = rd.cost_smoothness(
        model, params, x0, us, ys, key=getkey(), num_iters=50, **ascent
    )
    z0, unravel = ravel_pytree((params, x0))
    V = lambda z: rd.cost(model, *unravel(z), us, ys)
    rho, phi = np.meshgrid(np.linspace(0, radius, 60), np.linspace(0, 2 * np.pi, 240))
    disc = np.stack([rho * np.cos(phi), rho * np.sin(phi)], -1).reshape(-1, 2)
    zs = np.asarray(z0)[None] + disc
    grad_max = np.max(np.linalg.norm(jax.vmap(jax.grad(V))(zs), axis=1))
    hess_max = np.max(np.linalg.norm(jax.vmap(jax.hessian(V))(zs), 2, axis=(1, 2)))
    assert 0.99 * grad_max <= result.L_V[0] <= grad_max * (1 + 1e-3)
    assert 0.99 * hess_max <= result.L_V_grad[0] <= hess_max * (1 + 1e-3)


@pytest.mark.slow  # 20 s of compiling: the slow tier keeps make test under 15 min
def test_estimates_on_a_diverging_map_are_nan_and_do_not_leak_into_short_lengths():
    # The logistic map at r = 5 leaves [0, 1] and overflows after ~10 steps.
    model = rd.models.logistic(5.0)
    params = model.init(jax.random.key(0))
    x0, us, key = jnp.array([0.5]), jnp.zeros((200, 0)), jax.random.key(1)
    xs = rd.simulate(model, params, x0, us).states
    assert not np.all(np.isfinite(xs[-3:]))
    norms = rd.jacobian_norms(model, params, xs[-3:], us[-3:], key=key)
    assert np.all(np.isnan(norms.f_state)) and np.all(np.isnan(norms.f_joint))
    assert np.all(
        np.isnan(rd.jacobian_lipschitz(model, params, xs[-3:], us[:3], key=key)[0])
    )
    assert np.isnan(rd.trajectory_lipschitz(model, params, x0, us, key=key).sigma)
    smooth = lambda lengths: rd.cost_smoothness(
        model,
        params,
        x0,
        us[: max(lengths)],
        jnp.zeros((max(lengths), 1)),
        lengths=lengths,
        radius=0.01,
        num_samples=2,
        key=key,
    )
    both, alone = smooth((4, 200)), smooth((4,))
    assert np.isnan(both.L_V[1]) and np.isnan(both.L_V_grad[1])
    # V_4 is finite: the overflowing tail of the 200-step run must not reach it
    np.testing.assert_allclose(both.L_V[0], alone.L_V[0], rtol=1e-10)
    np.testing.assert_allclose(both.L_V_grad[0], alone.L_V_grad[0], rtol=1e-10)
    assert np.isfinite(alone.L_V[0]) and alone.L_V[0] > 0
