"""Tests of the entropy estimators: the Kozachenko-Leonenko estimator and Theorem 2."""

import functools as ft
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.spatial
import scipy.special
from helpers import linear_params

import rnn_dyn as rd
from rnn_dyn import ensemble_entropy, kozachenko_leonenko

K = 4


def standard_error(d, M, k=K, var_log_p=None):
    """Standard deviation of the estimate: ψ'(k) from the k-NN volume, plus Var log p.

    Given the density at x_i, log(M V_d ε_i^d p(x_i)) is the log of a Gamma(k)
    variable, with variance ψ'(k); −log p(x_i) adds d/2 for a Gaussian and 0
    for a uniform. Measured over 25 seeds at M = 4000 the spread matches this
    (0.014, 0.019, 0.023 nats for d = 1, 2, 4).
    """
    var_log_p = d / 2 if var_log_p is None else var_log_p
    return math.sqrt((float(scipy.special.polygamma(1, k)) + var_log_p) / M)


def orthogonal(key, n):
    return jnp.linalg.qr(jax.random.normal(key, (n, n)))[0]


def gaussian_entropy(cov):
    return 0.5 * float(jnp.linalg.slogdet(2 * jnp.pi * jnp.e * cov)[1])


@pytest.mark.parametrize("d", [1, 2, 4])
def test_kozachenko_leonenko_matches_gaussian_entropy(d, getkey):
    M = 4000
    std = jax.random.uniform(getkey(), (d,), minval=0.5, maxval=2.0)
    L = orthogonal(getkey(), d) * std[None]
    x = jax.random.normal(getkey(), (M, d)) @ L.T
    H = float(kozachenko_leonenko(x, k=K))
    # 4 standard errors, plus the estimator's finite-M bias in the Gaussian
    # tails, which grows with d (measured -0.001, -0.013, -0.051 nats for
    # d = 1, 2, 4 at M = 4000): tolerances 0.07, 0.10, 0.16 nats.
    tol = 4 * standard_error(d, M) + 0.015 * d
    assert abs(H - gaussian_entropy(L @ L.T)) < tol


@pytest.mark.parametrize("d", [1, 2])
def test_kozachenko_leonenko_matches_uniform_log_volume(d, getkey):
    M = 4000
    low = jax.random.normal(getkey(), (d,))
    high = low + jax.random.uniform(getkey(), (d,), minval=0.5, maxval=3.0)
    x = jax.random.uniform(getkey(), (M, d), minval=low, maxval=high)
    H = float(kozachenko_leonenko(x, k=K))
    # Points whose k-NN ball of radius ~ (k/M)^(1/d) crosses the boundary are
    # overestimated: a bias of about d (k/M)^(1/d) (measured +0.003 and +0.025
    # nats for d = 1, 2), on top of 4 standard errors with Var log p = 0.
    tol = 4 * standard_error(d, M, var_log_p=0.0) + d * (K / M) ** (1 / d)
    assert abs(H - float(jnp.sum(jnp.log(high - low)))) < tol


def kdtree_reference(x, k):
    """The same estimator with scipy's k-d tree for the neighbour distances."""
    x = np.asarray(x)
    M, d = x.shape
    eps = scipy.spatial.cKDTree(x).query(x, k=k + 1)[0][:, k]
    log_ball = 0.5 * d * np.log(np.pi) - scipy.special.gammaln(0.5 * d + 1)
    return (
        scipy.special.digamma(M)
        - scipy.special.digamma(k)
        + log_ball
        + d * np.mean(np.log(eps))
    )


def test_kozachenko_leonenko_matches_kdtree(getkey):
    x = jax.random.normal(getkey(), (300, 3))
    x = x.at[:10].set(x[10:20])  # exact duplicates, counted as neighbours
    # A chunk size that does not divide M, plain; the default one under jit.
    for k, fn in (
        (2, ft.partial(kozachenko_leonenko, k=2, chunk_size=7)),
        (4, jax.jit(ft.partial(kozachenko_leonenko, k=4))),
    ):
        expected = kdtree_reference(x, k)
        assert abs(float(fn(x)) - expected) < 1e-12 * abs(expected)


def test_kozachenko_leonenko_vmaps_over_ensembles(getkey):
    xs = jax.random.normal(getkey(), (3, 200, 2))
    batched = jax.vmap(lambda x: kozachenko_leonenko(x, k=1))(xs)
    expected = np.array([kdtree_reference(x, 1) for x in xs])
    np.testing.assert_allclose(batched, expected, rtol=1e-12)


def test_kozachenko_leonenko_keeps_float32(getkey):
    x = jax.random.normal(getkey(), (100, 2), jnp.float32)
    H = kozachenko_leonenko(x)
    assert H.dtype == jnp.float32
    assert abs(float(H) - kdtree_reference(x.astype(jnp.float64), K)) < 1e-4


def test_kozachenko_leonenko_reports_duplicates_and_nonfinite(getkey):
    x = jax.random.normal(getkey(), (100, 2))
    assert np.isfinite(kozachenko_leonenko(x.at[1].set(x[0]), k=2))
    # k exact copies of a point put its k-th neighbour at distance 0: an atom.
    assert kozachenko_leonenko(x.at[1:3].set(x[0]), k=2) == -jnp.inf
    assert np.isnan(kozachenko_leonenko(x.at[5, 1].set(jnp.nan), k=2))
    assert np.isnan(kozachenko_leonenko(x.at[5, 0].set(jnp.inf), k=2))


def test_ensemble_entropy_linear_increment_is_log_det(getkey):
    # A = Q1 diag(s) Q2ᵀ: singular values s, log|det A| = Σ log s, and the
    # ensemble stays Gaussian with covariance A^t (A^t)ᵀ in closed form.
    n, M, T = 3, 2000, 3
    s = jnp.array([1.3, 0.9, 0.6])
    a = (orthogonal(getkey(), n) * s[None]) @ orthogonal(getkey(), n).T
    model = rd.models.linear(n, 0, 1)
    x0s = jax.random.normal(getkey(), (M, n))
    res = ensemble_entropy(model, linear_params(a), x0s, jnp.zeros((T, 0)), k=K)
    log_det = float(jnp.sum(jnp.log(s)))
    np.testing.assert_allclose(res.log_det_mean, log_det, rtol=1e-12)
    np.testing.assert_allclose(res.lipschitz, 1.3, rtol=1e-12)
    # The same members mapped: the errors of H_t and H_{t+1} cancel to a
    # spread of 0.005-0.012 nats (12 seeds, max 0.024).
    np.testing.assert_allclose(res.increments, log_det, atol=0.05)
    np.testing.assert_allclose(res.increments, res.entropy[1:] - res.entropy[:-1])
    covs = [jnp.linalg.matrix_power(a, t) for t in range(T + 1)]
    exact = np.array([gaussian_entropy(c @ c.T) for c in covs])
    tol = 4 * standard_error(n, M) + 0.015 * n
    np.testing.assert_allclose(res.entropy, exact, atol=tol)
    np.testing.assert_allclose(res.bound, res.entropy[:-1] + n * np.log(1.3))
    assert res.violations.size == 0
    np.testing.assert_array_equal(res.printed_violations, np.arange(T))
    np.testing.assert_array_equal(res.num_nonfinite, 0)


def test_ensemble_entropy_bound_is_tight_for_scaled_orthogonal_map(getkey):
    # log|det cQ| = n log c = n log ‖cQ‖₂, and the k-NN estimate is exactly
    # equivariant under similarities: both directions of Theorem 2 are
    # equalities, to rounding.
    n, c = 3, 1.5
    model = rd.models.linear(n, 0, 1)
    params = linear_params(c * orthogonal(getkey(), n))
    x0s = jax.random.normal(getkey(), (2000, n))
    res = ensemble_entropy(model, params, x0s, jnp.zeros((3, 0)), tol=1e-9)
    np.testing.assert_allclose(res.increments, n * math.log(c), rtol=1e-10)
    np.testing.assert_allclose(res.log_det_mean, n * math.log(c), rtol=1e-12)
    np.testing.assert_allclose(res.entropy[1:], res.bound, rtol=1e-10)
    assert res.violations.size == 0 and res.printed_violations.size == 0


def test_ensemble_entropy_chaotic_lstm_obeys_the_proofs_direction(getkey):
    model, params, x0 = rd.examples.chaotic_lstm("authors")
    M, T, n = 500, 10, model.state_size
    x0s = x0[None] + 0.1 * jax.random.normal(getkey(), (M, n))
    us = jnp.zeros((T, 0))
    res = ensemble_entropy(model, params, x0s, us, k=K)
    assert np.all(np.isfinite(res.entropy))
    assert res.violations.size == 0
    # A volume-contracting map (E log|det A| < 0) with ‖A‖ > 1: the printed
    # (S3) fails at every step, by several nats.
    np.testing.assert_array_equal(res.printed_violations, np.arange(T))
    assert np.all(res.log_det_mean < 0) and np.all(res.lipschitz > 1)

    # References at x_0 and x_{T-1} from the reverse-mode Jacobian:
    # log|det A| = Σ log|R_ii| of A = QR, and ‖A‖₂² = λ_max(AᵀA).
    xs = jax.vmap(lambda x: rd.simulate(model, params, x, us).states)(x0s)
    jac = jax.vmap(jax.jacrev(lambda x: model.f(params, x, jnp.zeros((0,)))))
    for t in (0, T - 1):
        A = jac(xs[:, t])
        R = jnp.linalg.qr(A, mode="r")
        log_det = jnp.sum(jnp.log(jnp.abs(jnp.diagonal(R, axis1=1, axis2=2))), -1)
        np.testing.assert_allclose(res.log_det_mean[t], jnp.mean(log_det), 1e-12)
        lam_max = jnp.max(jnp.linalg.eigvalsh(jnp.swapaxes(A, 1, 2) @ A))
        np.testing.assert_allclose(res.lipschitz[t], jnp.sqrt(lam_max), 1e-12)


def test_ensemble_entropy_printed_direction_fails_for_volume_preserving_map(getkey):
    # diag(3/2, 1, 2/3): det = 1, so H is constant, while n log ‖A‖ = 3 log 1.5.
    # (Stronger stretching biases the estimate: with diag(2, 1, 1/2) the third
    # increment is off by 0.18 nats, the ensemble's axes then differing 64-fold.)
    model = rd.models.linear(3, 0, 1)
    params = linear_params(jnp.diag(jnp.array([1.5, 1.0, 2 / 3])))
    x0s = jax.random.normal(getkey(), (2000, 3))
    res = ensemble_entropy(model, params, x0s, jnp.zeros((3, 0)))
    np.testing.assert_allclose(res.log_det_mean, 0.0, atol=1e-14)
    np.testing.assert_allclose(res.increments, 0.0, atol=res.tol)
    np.testing.assert_allclose(
        res.bound - res.entropy[1:], 3 * math.log(1.5), atol=res.tol
    )
    assert res.violations.size == 0
    np.testing.assert_array_equal(res.printed_violations, [0, 1, 2])


def test_ensemble_entropy_reports_divergence(getkey):
    # The Hénon map from x ≈ 3 escapes to infinity doubly exponentially.
    model = rd.models.henon()
    params = model.init(getkey())
    x0s = 3.0 + 0.1 * jax.random.normal(getkey(), (200, 2))
    res = ensemble_entropy(model, params, x0s, jnp.zeros((12, 0)))
    bad = np.asarray(res.num_nonfinite) > 0
    assert bad[-1] and not bad[0]
    assert res.num_nonfinite[-1] == 200
    np.testing.assert_array_equal(np.isnan(res.entropy), bad)
    # det A = -b everywhere the state is finite.
    finite = ~bad[:-1]
    np.testing.assert_allclose(res.log_det_mean[finite], math.log(0.3), rtol=1e-12)
    first_bad = int(np.argmax(bad))
    steps = np.concatenate([res.violations, res.printed_violations])
    assert np.all(steps < first_bad - 1)  # NaN steps are checked in neither list


def test_bad_shapes_raise(getkey, no_typecheck):
    x = jax.random.normal(getkey(), (10, 2))
    with pytest.raises(ValueError, match=r"shape \(M, d\)"):
        kozachenko_leonenko(x[:, 0])
    with pytest.raises(ValueError, match="more than k = 4"):
        kozachenko_leonenko(x[:4])
    with pytest.raises(ValueError, match="k must be"):
        kozachenko_leonenko(x, k=0)
    with pytest.raises(ValueError, match="chunk_size must be"):
        kozachenko_leonenko(x, chunk_size=0)
    model = rd.models.linear(2, 1, 1)
    params = model.init(getkey())
    us = jnp.zeros((3, 1))
    with pytest.raises(ValueError, match=r"x0s must have shape \(M, 2\)"):
        ensemble_entropy(model, params, jnp.zeros((10, 3)), us)
    with pytest.raises(ValueError, match=r"x0s must have shape \(M, 2\)"):
        ensemble_entropy(model, params, jnp.zeros((10,)), us)
    with pytest.raises(ValueError, match="more than k"):
        ensemble_entropy(model, params, jnp.zeros((4, 2)), us)
    with pytest.raises(ValueError, match=r"inputs must have shape \(N, 1\)"):
        ensemble_entropy(model, params, x, jnp.zeros((3, 2)))
    with pytest.raises(ValueError, match="tol must be"):
        ensemble_entropy(model, params, x, us, tol=-1.0)
    with pytest.raises(ValueError, match="params"):
        ensemble_entropy(model, params._replace(a=jnp.zeros((3, 3))), x, us)
