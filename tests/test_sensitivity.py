import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import (
    AD_RTOL,
    ALL_MODELS,
    FD_RTOL,
    chaotic,
    fd_directional,
    fd_jacobian,
    model_id,
    random_problem,
    rel_err,
)
from jax.flatten_util import ravel_pytree

import rnn_dyn as rd

GRADIENT_MODELS = {
    "rnn": rd.models.rnn(3, 4, readout=3),
    "lstm": rd.models.lstm(3, 4, readout=3),
    "lstm-nobias": rd.models.lstm(2, 3, bias=False),
    "gru": rd.models.gru(3, 4, readout=3),
    "linear": rd.models.linear(4, 2, 3),
    "chaotic-lstm": None,
}
LOSSES = ["mse", "bce_with_logits", "cross_entropy"]


def _problem(name, key, n_steps, loss):
    if name == "chaotic-lstm":
        model, params, x0 = chaotic()
        us = jnp.zeros((n_steps, 0))
        k1, k2 = jax.random.split(key)
        if loss == "cross_entropy":
            ys = jax.random.randint(k1, (n_steps,), 0, 2)
        elif loss == "bce_with_logits":
            ys = jax.random.bernoulli(k1, 0.5, (n_steps, 2)).astype(float)
        else:
            ys = rd.simulate(model, params, x0, us).outputs
            ys = ys + 0.05 * jax.random.normal(k2, ys.shape)
        return model, params, x0, us, ys
    model = GRADIENT_MODELS[name]
    return (model, *random_problem(model, key, n_steps, loss=loss))


# Every model with every loss at N = 7, and at N = 1 and 50 with one loss each
# (a different one for each model): the loss enters only through the last
# term of (S2), the length only through the recursion, so the full 6 x 3 x 3
# product (54 compilations) tests nothing these 30 cases do not.
GRADIENT_CASES = [(name, loss, 7) for name in GRADIENT_MODELS for loss in LOSSES] + [
    (name, LOSSES[(i + j) % len(LOSSES)], n_steps)
    for i, name in enumerate(GRADIENT_MODELS)
    for j, n_steps in enumerate((1, 50))
]


@pytest.mark.parametrize("name, loss, n_steps", GRADIENT_CASES)
def test_forward_gradient_equals_reverse_and_finite_differences(
    name, loss, n_steps, getkey
):
    model, params, x0, us, ys = _problem(name, getkey(), n_steps, loss)
    for burn_in in sorted({0, n_steps // 3}):
        kw = dict(loss=loss, burn_in=burn_in)
        fwd = jax.jit(
            rd.forward_gradient, static_argnums=0, static_argnames=("loss", "burn_in")
        )(model, params, x0, us, ys, **kw)
        rev = rd.reverse_gradient(model, params, x0, us, ys, **kw)
        assert rel_err(fwd, rev) < AD_RTOL
        # Central differences along two random directions.
        v = jax.tree_util.tree_map(
            lambda a: jax.random.normal(getkey(), a.shape), params
        )
        cost = jax.jit(lambda p, kw=kw: rd.cost(model, p, x0, us, ys, **kw))
        # Chaos (the chaotic LSTM amplifies by ~e^8 at N=50) needs a 4th-order stencil.
        fd = fd_directional(cost, params, v, eps=1e-6, order=4)
        ad = jnp.vdot(ravel_pytree(fwd)[0], ravel_pytree(v)[0])
        np.testing.assert_allclose(ad, fd, rtol=FD_RTOL, atol=1e-9)


@pytest.mark.parametrize("name", ["lstm", "gru"])
def test_forward_gradient_last_only_matches_full_finite_differences(name, getkey):
    model = GRADIENT_MODELS[name]
    params, x0, us, y = random_problem(
        model, getkey(), 9, loss="cross_entropy", last_only=True
    )
    kw = dict(loss="cross_entropy", last_only=True)
    fwd = rd.forward_gradient(model, params, x0, us, y, **kw)
    rev = rd.reverse_gradient(model, params, x0, us, y, **kw)
    assert rel_err(fwd, rev) < AD_RTOL
    fd = fd_jacobian(lambda p: rd.cost(model, p, x0, us, y, **kw), params)
    np.testing.assert_allclose(ravel_pytree(fwd)[0], fd[0], rtol=FD_RTOL, atol=1e-9)


def test_forward_gradient_vmaps_over_sequences(getkey):
    model = GRADIENT_MODELS["lstm"]
    problems = [random_problem(model, getkey(), 6) for _ in range(3)]
    params = problems[0][0]
    x0s, uss, yss = (jnp.stack([p[i] for p in problems]) for i in (1, 2, 3))
    batched = jax.vmap(rd.forward_gradient, in_axes=(None, None, 0, 0, 0))(
        model, params, x0s, uss, yss
    )
    for i in range(3):
        single = rd.reverse_gradient(model, params, x0s[i], uss[i], yss[i])
        one = jax.tree_util.tree_map(lambda a, i=i: a[i], batched)
        assert rel_err(one, single) < AD_RTOL


@pytest.mark.parametrize("model", ALL_MODELS, ids=model_id)
def test_step_jacobians_match_jacrev_and_finite_differences(model, getkey):
    params, x0, us, _ = random_problem(model, getkey(), 1)
    x, u = x0, us[0]
    jac = rd.step_jacobians(model, params, x, u)
    theta, unravel = ravel_pytree(params)
    f = lambda th, x: model.f(unravel(th), x, u)
    g = lambda th, x: model.g(unravel(th), x, u)
    A_rev, B_rev = jax.jit(jax.jacrev(f, argnums=(1, 0)))(theta, x)
    C_rev, F_rev = jax.jit(jax.jacrev(g, argnums=(1, 0)))(theta, x)
    for got, ref in zip(jac, (A_rev, B_rev, C_rev, F_rev), strict=True):
        np.testing.assert_allclose(got, ref, rtol=AD_RTOL, atol=1e-14)
    np.testing.assert_allclose(
        jac.A, fd_jacobian(lambda y: f(theta, y), x), rtol=FD_RTOL, atol=1e-9
    )
    np.testing.assert_allclose(
        jac.B, fd_jacobian(lambda th: f(th, x), theta), rtol=FD_RTOL, atol=1e-9
    )
    np.testing.assert_allclose(
        jac.C, fd_jacobian(lambda y: g(theta, y), x), rtol=FD_RTOL, atol=1e-9
    )
    np.testing.assert_allclose(
        jac.F, fd_jacobian(lambda th: g(th, x), theta), rtol=FD_RTOL, atol=1e-9
    )


def test_jacobians_are_evaluated_along_the_trajectory(getkey):
    model = GRADIENT_MODELS["gru"]
    params, x0, us, _ = random_problem(model, getkey(), 5)
    jac = rd.jacobians(model, params, x0, us)
    n, p, P = model.state_size, model.output_size, ravel_pytree(params)[0].size
    assert jac.A.shape == (5, n, n) and jac.B.shape == (5, n, P)
    assert jac.C.shape == (5, p, n) and jac.F.shape == (5, p, P)
    states = rd.simulate(model, params, x0, us).states
    for t in (0, 4):
        step = rd.step_jacobians(model, params, states[t], us[t])
        np.testing.assert_allclose(jac.A[t], step.A, rtol=1e-14)
        np.testing.assert_allclose(jac.F[t], step.F, rtol=1e-14)


def test_linear_sensitivities_equal_closed_form(getkey):
    model = rd.models.linear(3, 2, 2)
    params, x0, us, _ = random_problem(model, getkey(), 6)
    jac = rd.jacobians(model, params, x0, us)
    a, b, c, d = (np.asarray(m) for m in params)
    np.testing.assert_allclose(jac.A, np.broadcast_to(a, (6, 3, 3)), rtol=1e-15)
    np.testing.assert_allclose(jac.C, np.broadcast_to(c, (6, 2, 3)), rtol=1e-15)
    D, J = rd.forward_sensitivities(model, params, x0, us)
    # theta = [vec(a), vec(b), vec(c), vec(d)], row-major;
    # dx_t/db = sum_k a^{t-1-k} ⊗ u_k^T
    b_cols = slice(9, 15)
    uk = np.asarray(us)
    for t in range(6):
        expected = sum(
            (
                np.kron(np.linalg.matrix_power(a, t - 1 - k), uk[k][None, :])
                for k in range(t)
            ),
            np.zeros((3, 6)),
        )
        np.testing.assert_allclose(D[t][:, b_cols], expected, rtol=1e-12, atol=1e-14)
        # J_t = C_t D_t + F_t (S1), with F_t's c-block = I ⊗ x_t^T
        np.testing.assert_allclose(J[t], c @ D[t] + jac.F[t], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(D[0], 0.0)


@pytest.mark.parametrize("name", ["lstm", "chaotic-lstm"])
def test_forward_sensitivities_equal_jacobian_of_simulate(name, getkey):
    model, params, x0, us, _ = _problem(name, getkey(), 8, "mse")
    D, J = rd.forward_sensitivities(model, params, x0, us)
    theta, unravel = ravel_pytree(params)
    sim = lambda th: rd.simulate(model, unravel(th), x0, us)
    D_rev = jax.jacrev(lambda th: sim(th).states)(theta)
    J_fwd = jax.jacfwd(lambda th: sim(th).outputs)(theta)
    np.testing.assert_allclose(D, D_rev, rtol=AD_RTOL, atol=1e-13)
    np.testing.assert_allclose(J, J_fwd, rtol=AD_RTOL, atol=1e-13)


@pytest.mark.parametrize("transform", [lambda f: f, jax.jit], ids=["plain", "jit"])
def test_directional_sensitivity_equals_dense_and_finite_differences(transform, getkey):
    model, params, x0, us, _ = _problem("chaotic-lstm", getkey(), 30, "mse")
    v = jax.tree_util.tree_map(lambda a: jax.random.normal(getkey(), a.shape), params)
    fn = transform(lambda p, v: rd.directional_sensitivity(model, p, x0, us, v))
    tangent = fn(params, v)
    D, J = rd.forward_sensitivities(model, params, x0, us)
    v_flat = ravel_pytree(v)[0]
    np.testing.assert_allclose(tangent.states, D @ v_flat, rtol=AD_RTOL, atol=1e-12)
    np.testing.assert_allclose(tangent.outputs, J @ v_flat, rtol=AD_RTOL, atol=1e-12)
    fd = fd_directional(lambda p: rd.simulate(model, p, x0, us).outputs, params, v)
    np.testing.assert_allclose(tangent.outputs, fd, rtol=FD_RTOL, atol=1e-8)


def test_forward_gradient_keeps_nan_out_of_burned_in_steps(getkey):
    # A NaN target inside the burn-in must not reach the gradient (its weight is 0).
    model, params, x0, us, ys = _problem("chaotic-lstm", getkey(), 20, "mse")
    ys = ys.at[3].set(jnp.nan)
    fwd = rd.forward_gradient(model, params, x0, us, ys, burn_in=5)
    rev = rd.reverse_gradient(model, params, x0, us, ys, burn_in=5)
    assert np.all(np.isfinite(ravel_pytree(fwd)[0]))
    assert rel_err(fwd, rev) < AD_RTOL


def test_gradients_report_overflow_as_nan():
    model = rd.models.logistic(4.5)
    params = model.init(jax.random.key(0))
    x0 = model.initial_state(params)
    us, ys = jnp.zeros((300, 0)), jnp.zeros((300, 1))
    assert not np.isfinite(rd.cost(model, params, x0, us, ys))
    assert not np.isfinite(rd.forward_gradient(model, params, x0, us, ys).r)
    assert not np.isfinite(rd.reverse_gradient(model, params, x0, us, ys).r)
