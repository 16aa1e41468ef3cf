"""Lyapunov exponents against known constants, closed forms and a second method."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import rotation

import rnn_dyn as rd
from rnn_dyn import (
    classify_attractor,
    kaplan_yorke_dimension,
    largest_lyapunov_exponent,
    lyapunov_spectrum,
)


def linear_map(a, input_size=1):
    a = jnp.asarray(a, jnp.float64)
    model = rd.models.linear(a.shape[0], input_size, 1)
    params = model.init(jax.random.key(0))._replace(a=a)
    return model, params


def test_logistic_map_at_r4_has_exponent_ln2():
    model = rd.models.logistic(4.0)
    params = model.init(jax.random.key(0))
    x0 = model.initial_state(params)
    result = lyapunov_spectrum(model, params, x0, n_steps=20_000, burn_in=100)
    assert abs(float(result.exponents[0]) - np.log(2)) < 0.01
    # The standard error is honest: ln 2 is within a few of them.
    assert abs(float(result.exponents[0]) - np.log(2)) < 5 * float(result.stderr[0])
    assert int(result.nonfinite_steps) == 0
    np.testing.assert_allclose(result.history[-1], result.exponents)


def test_henon_exponents_sum_to_log_b_and_agree_with_two_trajectories():
    model = rd.models.henon(1.4, 0.3)
    params = model.init(jax.random.key(0))
    x0 = model.initial_state(params)
    qr = lyapunov_spectrum(model, params, x0, n_steps=20_000, burn_in=100)
    # det A_t = -b at every step: the sum is log 0.3 to rounding.
    assert abs(float(qr.exponents.sum()) - np.log(0.3)) < 1e-3
    # λ₁ ≈ 0.4192. A last-bit difference (another CPU's vector code) gives
    # another orbit after ~90 steps, hence another estimate: over 64 orbits
    # 1e-12 apart, mean 0.4188, spread 0.0026; the margin is over 5 of those.
    assert abs(float(qr.exponents[0]) - 0.4192) < 0.015
    two = largest_lyapunov_exponent(model, params, x0, n_steps=20_000, burn_in=100)
    # The two methods follow their orbits in two compiled programs, which
    # need not round alike: the long runs agree within statistical error
    # (over 64 pairs of orbits 1e-12 apart, at most 0.6 of this margin)...
    margin = 5 * float(np.hypot(qr.stderr[0], two.stderr[0]))
    assert abs(float(two.exponents[0] - qr.exponents[0])) < margin
    # ... and step by step, over a window too short for rounding to separate
    # the orbits (e^{0.42·30} ≈ 3e5), the local stretching agrees once the
    # frame and the neighbour have turned to the unstable direction.
    short_qr = lyapunov_spectrum(model, params, x0, n_steps=30)
    short_two = largest_lyapunov_exponent(model, params, x0, n_steps=30)
    np.testing.assert_allclose(
        short_two.local_rates[10:, 0], short_qr.local_rates[10:, 0], atol=1e-6
    )
    dim = kaplan_yorke_dimension(qr.exponents)
    assert 1.2 < dim < 1.3  # the Hénon attractor's dimension, about 1.26


def test_diagonalisable_linear_map_exponents_are_log_abs_eigenvalues(getkey):
    eig = np.array([1.3, -0.9, 0.5, 0.2])
    basis = np.asarray(jax.random.normal(getkey(), (4, 4)), float) + 2 * np.eye(4)
    a = basis @ np.diag(eig) @ np.linalg.inv(basis)
    model, params = linear_map(a)
    x0 = jnp.ones(4)
    # Overflows nothing: 1.3^300 ≈ 1e34; the exponents depend on A only.
    result = lyapunov_spectrum(model, params, x0, n_steps=200, burn_in=100)
    np.testing.assert_allclose(result.exponents, np.log(np.abs(eig)), atol=1e-10)
    # Driven by an input, a linear map has the same exponents.
    us = jax.random.normal(getkey(), (300, 1))
    driven = lyapunov_spectrum(model, params, x0, us, burn_in=100)
    np.testing.assert_allclose(driven.exponents, np.log(np.abs(eig)), atol=1e-10)


def test_k_leading_exponents_match_the_full_spectrum():
    # A k-column frame is another compiled program, which may round the orbit
    # differently: 80 steps keep that below 1e-9 (e^{0.17·80} ≈ 1e6), while
    # long runs would follow two different orbits of the chaotic LSTM.
    model, params, x0 = rd.examples.chaotic_lstm("authors")
    full = lyapunov_spectrum(model, params, x0, n_steps=40, burn_in=40)
    for k in (1, 2):
        part = lyapunov_spectrum(model, params, x0, n_steps=40, burn_in=40, k=k)
        # The first k columns of the QR frame do not depend on the others,
        # but the random frames differ; after the burn-in both are aligned
        # (λ₁ - λ₂ ≈ 0.55, λ₂ - λ₃ ≈ 1.3), and so is every step's rate.
        np.testing.assert_allclose(part.exponents, full.exponents[:k], atol=1e-6)
        np.testing.assert_allclose(part.local_rates, full.local_rates[:, :k], atol=1e-5)


def test_authors_chaotic_lstm_is_chaotic_and_the_printed_one_is_not():
    model, params, x0 = rd.examples.chaotic_lstm("authors")
    authors = lyapunov_spectrum(model, params, x0, n_steps=10_000, burn_in=1000)
    assert float(authors.exponents[0]) > 0.1  # λ₁ ≈ 0.17 (0.164-0.176 seen)
    two = largest_lyapunov_exponent(model, params, x0, n_steps=10_000, burn_in=1000)
    assert float(two.exponents[0]) > 0.1
    # Two compiled programs, so possibly two orbits (this one is rounded
    # differently from the QR method's even on one CPU): agreement within the
    # statistical error, about 0.007 here (over 64 pairs of orbits 1e-12
    # apart, at most 0.6 of this margin), and step by step over 60 steps.
    margin = 5 * float(np.hypot(authors.stderr[0], two.stderr[0]))
    assert abs(float(two.exponents[0] - authors.exponents[0])) < margin
    short_qr = lyapunov_spectrum(model, params, x0, n_steps=60, k=1)
    short_two = largest_lyapunov_exponent(model, params, x0, n_steps=60)
    np.testing.assert_allclose(
        short_two.local_rates[30:, 0], short_qr.local_rates[30:, 0], atol=1e-5
    )
    model, params, x0 = rd.examples.chaotic_lstm("printed")
    printed = lyapunov_spectrum(model, params, x0, n_steps=10_000, burn_in=1000, k=1)
    assert float(printed.exponents[0]) < 0


def test_batch_of_initial_states_equals_one_at_a_time(getkey):
    model = rd.models.henon()
    params = model.init(getkey())
    x0s = 0.1 * jax.random.normal(getkey(), (3, 2))
    batch = lyapunov_spectrum(model, params, x0s, n_steps=500, burn_in=50)
    assert batch.exponents.shape == (3, 2) and batch.history.shape == (3, 500, 2)
    for i in range(3):
        one = lyapunov_spectrum(model, params, x0s[i], n_steps=500, burn_in=50)
        np.testing.assert_allclose(batch.exponents[i], one.exponents, rtol=1e-12)


def test_divergence_is_reported_not_hidden():
    model, params = linear_map(np.diag([1e3, 0.5]))
    result = lyapunov_spectrum(model, params, jnp.ones(2), n_steps=300)
    # 1000^t overflows float64 after ~103 steps. The tangent map of a linear
    # system does not see the state, so the exponents stay finite: the count
    # of non-finite steps is what tells the user.
    assert int(result.nonfinite_steps) > 0
    np.testing.assert_allclose(result.exponents, np.log([1e3, 0.5]), atol=0.02)


def test_float32_over_long_horizons_warns():
    model = rd.models.logistic(4.0)
    params = model.init(jax.random.key(0), dtype=jnp.float32)
    x0s = jnp.linspace(0.05, 0.95, 32, dtype=jnp.float32)[:, None]
    with pytest.warns(UserWarning, match="float32"):
        result = lyapunov_spectrum(model, params, x0s, n_steps=20_000)
    assert result.exponents.dtype == jnp.float32
    # It still works: the exponent of a float32 shadow orbit is ln 2. But
    # about one orbit in five rounds onto x = 1 within 20,000 steps and stays
    # at 0 from then on (rate log 4), and which ones do depends on the last
    # bit of each step: ask for most of 32 orbits, not for a given one.
    lam = np.asarray(result.exponents[:, 0], float)
    assert np.sum(np.abs(lam - np.log(2)) < 0.02) >= 16, np.round(lam, 3)


@pytest.mark.parametrize(
    "args, message",
    [
        (dict(k=0), "k must be in"),
        (dict(k=5), "k must be in"),
        (dict(n_steps=1), "n_steps must be >= 2"),
        (dict(burn_in=-1), "burn_in must be >= 0"),
        (dict(us=jnp.zeros((10, 1))), r"us must have shape \(burn_in \+ n_steps, 0\)"),
        (dict(us=jnp.zeros((10, 0)), burn_in=9), "too few"),
    ],
)
def test_bad_arguments_raise(args, message, no_typecheck):
    model, params, x0 = rd.examples.chaotic_lstm("authors")
    with pytest.raises(ValueError, match=message):
        lyapunov_spectrum(model, params, x0, **args)


def test_bad_initial_state_raises(no_typecheck):
    model, params, _ = rd.examples.chaotic_lstm("authors")
    with pytest.raises(ValueError, match=r"x0 must have shape \(4,\)"):
        lyapunov_spectrum(model, params, jnp.zeros(3))


def test_kaplan_yorke_dimension_closed_forms():
    assert kaplan_yorke_dimension(jnp.array([-0.1, -0.5])) == 0.0
    assert kaplan_yorke_dimension(jnp.array([0.2, -0.4])) == pytest.approx(1.5)
    assert kaplan_yorke_dimension(jnp.array([0.3, 0.1, -0.8])) == pytest.approx(2.5)
    assert kaplan_yorke_dimension(jnp.array([0.1, 0.0])) == 2.0


# classify_attractor ---------------------------------------------------------


def test_logistic_at_r32_settles_on_a_stable_2_cycle():
    model = rd.models.logistic(3.2)
    params = model.init(jax.random.key(0))
    result = classify_attractor(model, params, jnp.array([0.1]))
    assert (result.kind, result.period) == ("periodic", 2)
    # λ on the cycle is log|f'(x+) f'(x-)| / 2 = log|-r² + 2r + 4| / 2.
    np.testing.assert_allclose(result.exponent, np.log(abs(-(3.2**2) + 6.4 + 4)) / 2)


def test_classification_of_linear_and_chaotic_maps():
    model, params = linear_map(rotation(2 * np.pi / 7), input_size=0)
    result = classify_attractor(model, params, jnp.array([1.0, 0.0]))
    assert (result.kind, result.period) == ("periodic", 7)
    model, params = linear_map(rotation(2 * np.pi * (np.sqrt(5) - 1) / 2), 0)
    result = classify_attractor(model, params, jnp.array([1.0, 0.0]))
    assert result.kind == "quasi-periodic" and abs(result.exponent) < 1e-12
    model, params = linear_map(0.5 * np.eye(2), 0)
    result = classify_attractor(model, params, jnp.array([1.0, 2.0]))
    assert (result.kind, result.period) == ("fixed-point", 1)
    model, params = linear_map(1.01 * np.eye(2), 0)
    result = classify_attractor(model, params, jnp.array([1.0, 2.0]))
    assert result.kind == "divergent"
    model = rd.models.henon()
    params = model.init(jax.random.key(0))
    result = classify_attractor(model, params, model.initial_state(params))
    assert result.kind == "chaotic" and result.exponent > 0.3


@pytest.mark.slow  # 20 s of compiling: the slow tier keeps make test under 15 min
def test_printed_chaotic_lstm_converges_slowly_to_a_stable_6_cycle():
    # λ₁ ≈ -0.0017: still far from the cycle after a short burn-in, where the
    # recurrence test alone cannot see it; Newton finishes the convergence.
    model, params, x0 = rd.examples.chaotic_lstm("printed")
    result = classify_attractor(model, params, x0, burn_in=1000, n_steps=2000)
    assert (result.kind, result.period) == ("periodic", 6)
    # Later the 12-step gap passes the recurrence test before the 6-step one
    # (the multiplier is about -0.99); the divisor check still finds 6.
    late = classify_attractor(model, params, x0, burn_in=5000, n_steps=2000)
    assert (late.kind, late.period) == ("periodic", 6)
    # λ₁ is the log of the cycle's Floquet multiplier, per step.
    x_late = rd.simulate(model, params, x0, jnp.zeros((20_000, 0))).states[-1]
    cycle = rd.fixed_points(model, params, jnp.zeros(0), x_late[None], period=6)
    assert cycle.stability == ("stable",)
    expected = np.log(float(cycle.spectral_radius[0])) / 6
    assert abs(result.exponent - expected) < 3e-4
