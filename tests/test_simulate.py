import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import ALL_MODELS, chaotic, model_id, random_problem

import rnn_dyn as rd

TRANSFORMS = [lambda f: f, jax.jit]


@pytest.mark.parametrize("transform", TRANSFORMS, ids=["plain", "jit"])
def test_simulate_linear_equals_closed_form(transform, getkey):
    model = rd.models.linear(4, 2, 3)
    params, x0, us, _ = random_problem(model, getkey(), 12)
    states, outputs = (
        transform(rd.simulate, static_argnums=0)(model, params, x0, us)
        if (transform is jax.jit)
        else rd.simulate(model, params, x0, us)
    )
    a, b, c, d = (np.asarray(m) for m in params)
    for t in range(12):
        # x_t = a^t x0 + sum_{k<t} a^{t-1-k} b u_k
        x_t = np.linalg.matrix_power(a, t) @ np.asarray(x0) + sum(
            (
                np.linalg.matrix_power(a, t - 1 - k) @ b @ np.asarray(us[k])
                for k in range(t)
            ),
            np.zeros(4),
        )
        np.testing.assert_allclose(states[t], x_t, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(
            outputs[t], c @ x_t + d @ np.asarray(us[t]), rtol=1e-12, atol=1e-13
        )


def test_simulate_logistic_matches_python_loop():
    model = rd.models.logistic(3.9)
    params = model.init(jax.random.key(0))
    x, expected = 0.1, []
    for _ in range(30):
        expected.append(x)
        x = 3.9 * x * (1 - x)
    states, _ = rd.simulate(
        model, params, model.initial_state(params), jnp.zeros((30, 0))
    )
    np.testing.assert_allclose(states[:, 0], expected, rtol=1e-9)


@pytest.mark.parametrize("model", ALL_MODELS, ids=model_id)
def test_simulate_vmap_equals_loop(model, getkey):
    problems = [random_problem(model, getkey(), 5) for _ in range(3)]
    params = problems[0][0]
    x0s = jnp.stack([p[1] for p in problems])
    uss = jnp.stack([p[2] for p in problems])
    batched = jax.vmap(rd.simulate, in_axes=(None, None, 0, 0))(model, params, x0s, uss)
    for i in range(3):
        single = rd.simulate(model, params, x0s[i], uss[i])
        np.testing.assert_allclose(batched.outputs[i], single.outputs, rtol=1e-12)
        np.testing.assert_allclose(batched.states[i], single.states, rtol=1e-12)


def test_simulate_vmap_over_params(getkey):
    model = rd.models.lstm(2, 3)
    keys = jax.random.split(getkey(), 4)
    params = jax.vmap(model.init)(keys)
    x0 = jnp.zeros(6)
    us = jax.random.normal(getkey(), (7, 2))
    batched = jax.vmap(rd.simulate, in_axes=(None, 0, None, None))(
        model, params, x0, us
    )
    for i in range(4):
        p = jax.tree_util.tree_map(lambda a, i=i: a[i], params)
        np.testing.assert_allclose(
            batched.outputs[i], rd.simulate(model, p, x0, us).outputs
        )


def test_simulate_rejects_bad_shapes(getkey, no_typecheck):
    model = rd.models.lstm(3, 4)
    params = model.init(getkey())
    with pytest.raises(ValueError, match=r"x0 must have shape \(8,\), got \(4,\)"):
        rd.simulate(model, params, jnp.zeros(4), jnp.zeros((5, 3)))
    with pytest.raises(
        ValueError, match=r"inputs must have shape \(N, 3\).*got \(5, 2\)"
    ):
        rd.simulate(model, params, jnp.zeros(8), jnp.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"inputs must have shape.*got \(3,\)"):
        rd.simulate(model, params, jnp.zeros(8), jnp.zeros(3))
    bad = params._replace(weight_hh=jnp.zeros((16, 3)))
    with pytest.raises(
        ValueError, match=r"weight_hh must have shape \(16, 4\), got \(16, 3\)"
    ):
        rd.simulate(model, bad, jnp.zeros(8), jnp.zeros((5, 3)))
    with pytest.raises(ValueError, match="params do not match LSTM"):
        rd.simulate(
            model, params._replace(bias_ih=None), jnp.zeros(8), jnp.zeros((5, 3))
        )


def test_cost_burn_in_is_mean_over_kept_steps(getkey):
    model, params, x0 = chaotic()
    us = jnp.zeros((40, 0))
    _, outputs = rd.simulate(model, params, x0, us)
    ys = outputs + 0.1 * jax.random.normal(getkey(), outputs.shape)
    got = rd.cost(model, params, x0, us, ys, burn_in=15)
    expected = np.mean(np.sum((np.asarray(outputs - ys)) ** 2, axis=1)[15:])
    np.testing.assert_allclose(got, expected, rtol=1e-13)
    assert rd.cost(model, params, x0, us, outputs, burn_in=15) == 0.0


def test_cost_last_only_uses_last_output(getkey):
    model = rd.models.gru(2, 3, readout=4)
    params, x0, us, y = random_problem(
        model, getkey(), 9, loss="cross_entropy", last_only=True
    )
    logits = rd.simulate(model, params, x0, us).outputs[-1]
    expected = -jax.nn.log_softmax(logits)[y]
    got = rd.cost(model, params, x0, us, y, loss="cross_entropy", last_only=True)
    np.testing.assert_allclose(got, expected, rtol=1e-13)


def test_cost_rejects_bad_targets_and_burn_in(getkey, no_typecheck):
    model = rd.models.rnn(2, 3)
    params, x0, us, ys = random_problem(model, getkey(), 6)
    with pytest.raises(
        ValueError, match=r"targets ys must have shape \(6, 3\), got \(5, 3\)"
    ):
        rd.cost(model, params, x0, us, ys[:5])
    with pytest.raises(ValueError, match=r"burn_in must be an integer in \[0, 6\)"):
        rd.cost(model, params, x0, us, ys, burn_in=6)
    with pytest.raises(ValueError, match="loss must be one of"):
        rd.cost(model, params, x0, us, ys, loss="hinge")


def test_losses_match_definitions():
    y_hat = jnp.array([0.3, -1.2, 2.0])
    y = jnp.array([1.0, 0.0, 1.0])
    np.testing.assert_allclose(rd.mse(y_hat, y), np.sum((y_hat - y) ** 2))
    sig = 1 / (1 + np.exp(-np.asarray(y_hat)))
    bce = -np.sum(y * np.log(sig) + (1 - y) * np.log(1 - sig))
    np.testing.assert_allclose(rd.bce_with_logits(y_hat, y), bce, rtol=1e-14)
    logp = np.asarray(y_hat) - np.log(np.sum(np.exp(np.asarray(y_hat))))
    np.testing.assert_allclose(
        rd.cross_entropy(y_hat, jnp.array(2)), -logp[2], rtol=1e-14
    )


def test_bce_with_logits_is_finite_for_huge_logits():
    y_hat = jnp.array([800.0, -800.0])
    y = jnp.array([0.0, 1.0])
    np.testing.assert_allclose(rd.bce_with_logits(y_hat, y), 1600.0)
    assert rd.bce_with_logits(y_hat, 1 - y) == 0.0


def test_simulate_reports_overflow_as_nonfinite():
    model = rd.models.logistic(4.5)  # escapes [0, 1] and diverges to -inf
    params = model.init(jax.random.key(0))
    states, _ = rd.simulate(
        model, params, model.initial_state(params), jnp.zeros((200, 0))
    )
    assert not np.all(np.isfinite(states))
    assert np.isfinite(states[0, 0])


def test_requests_that_cannot_fit_in_memory_are_refused_up_front(monkeypatch):
    import rnn_dyn._validate as validate

    model = rd.models.logistic(3.9)
    params, x0 = model.init(jax.random.key(0)), jnp.array([0.3])
    us = jnp.zeros((1000, 0))
    # 1000 steps of one state and one output, float64: 16,000 bytes
    monkeypatch.setattr(validate, "available_memory", lambda on_device: 15_999)
    with pytest.raises(ValueError, match="need 15.6 KiB of memory and 15.6 KiB is"):
        rd.simulate(model, params, x0, us)
    with pytest.raises(ValueError, match="local rates of every step need"):
        rd.lyapunov_spectrum(model, params, x0, n_steps=1000)
    with pytest.raises(ValueError, match="local rates of every step need"):
        rd.largest_lyapunov_exponent(model, params, x0, n_steps=1000)
    monkeypatch.setattr(validate, "available_memory", lambda on_device: 16_000)
    assert rd.simulate(model, params, x0, us).states.shape == (1000, 1)
