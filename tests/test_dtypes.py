import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import ALL_MODELS, chaotic, model_id, random_problem, rel_err
from jax.flatten_util import ravel_pytree

import rnn_dyn as rd


def _to32(tree):
    return jax.tree_util.tree_map(lambda a: a.astype(jnp.float32), tree)


@pytest.mark.parametrize("model", ALL_MODELS, ids=model_id)
def test_simulate_float32_in_float32_out(model, getkey):
    params, x0, us, _ = random_problem(model, getkey(), 6)
    states, outputs = rd.simulate(
        model, _to32(params), x0.astype(jnp.float32), us.astype(jnp.float32)
    )
    assert states.dtype == jnp.float32 and outputs.dtype == jnp.float32
    ref = rd.simulate(model, params, x0, us)
    np.testing.assert_allclose(outputs, ref.outputs, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["lstm", "chaotic"])
def test_gradients_float32_agree_with_float64(name, getkey):
    # The chaotic LSTM amplifies float32 rounding by e^{λ t}: shorter, looser.
    tol = 3e-5 if name == "chaotic" else 1e-5
    if name == "chaotic":
        model, params, x0 = chaotic()
        us = jnp.zeros((5, 0))
        ys = rd.simulate(model, params, x0, us).outputs * 1.1
    else:
        model = rd.models.lstm(3, 4, readout=2)
        params, x0, us, ys = random_problem(model, getkey(), 10)
    p32, x32, u32, y32 = (
        _to32(params),
        x0.astype(jnp.float32),
        us.astype(jnp.float32),
        ys.astype(jnp.float32),
    )
    for grad_fn in (rd.forward_gradient, rd.reverse_gradient):
        g32 = grad_fn(model, p32, x32, u32, y32)
        g64 = grad_fn(model, params, x0, us, ys)
        assert ravel_pytree(g32)[0].dtype == jnp.float32
        assert rel_err(g32, g64) < tol
    c32 = rd.cost(model, p32, x32, u32, y32)
    assert c32.dtype == jnp.float32
    np.testing.assert_allclose(c32, rd.cost(model, params, x0, us, ys), rtol=tol)
    jac = rd.jacobians(model, p32, x32, u32)
    assert all(j.dtype == jnp.float32 for j in jac)


def test_chaotic_lstm_dtype_follows_request():
    model, params, x0 = rd.examples.chaotic_lstm("printed", dtype=jnp.float32)
    assert x0.dtype == jnp.float32 and params.weight_hh.dtype == jnp.float32
    assert (
        rd.simulate(model, params, x0, jnp.zeros((3, 0), jnp.float32)).states.dtype
        == jnp.float32
    )


# Mixed float dtypes: one rule across the public API (float32 params with
# a float64 x0 and inputs compute in float64; gradients come back in float32).


def _mixed(model_fn):
    model = model_fn()
    params = model.init(jax.random.key(0), dtype=jnp.float32)
    x0 = jnp.zeros(model.state_size, jnp.float64) + 0.1
    us = jax.random.normal(jax.random.key(1), (12, model.input_size), jnp.float64)
    ys = jax.random.normal(jax.random.key(2), (12, model.output_size), jnp.float64)
    return model, params, x0, us, ys


MIXED_MODELS = [lambda: rd.models.lstm(2, 3, readout=1), lambda: rd.models.gru(2, 3)]


@pytest.mark.parametrize("model_fn", MIXED_MODELS, ids=["lstm", "gru"])
def test_mixed_dtypes_compute_in_the_widest_and_forward_equals_reverse(model_fn):
    model, params, x0, us, ys = _mixed(model_fn)
    wide = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), params)
    traj = rd.simulate(model, params, x0, us)
    ref = rd.simulate(model, wide, x0, us)
    assert traj.states.dtype == jnp.float64
    np.testing.assert_array_equal(traj.states, ref.states)
    assert rd.cost(model, params, x0, us, ys) == rd.cost(model, wide, x0, us, ys)
    fwd = rd.forward_gradient(model, params, x0, us, ys)
    rev = rd.reverse_gradient(model, params, x0, us, ys)
    ref_rev = rd.reverse_gradient(model, wide, x0, us, ys)
    for f, r, w, p in zip(
        *(jax.tree_util.tree_leaves(t) for t in (fwd, rev, ref_rev, params)),
        strict=True,
    ):
        assert f.dtype == r.dtype == p.dtype == jnp.float32
        # both are the float64 gradient, rounded once to float32
        np.testing.assert_array_equal(r, w.astype(jnp.float32))
        np.testing.assert_allclose(f, r, rtol=1e-6, atol=1e-7)
    sens = rd.forward_sensitivities(model, params, x0, us)
    assert sens.D.dtype == jnp.float64
    jac = rd.jacobians(model, params, x0, us)
    assert jac.A.dtype == jnp.float64
    d = jax.tree_util.tree_map(jnp.ones_like, params)
    assert (
        rd.directional_sensitivity(model, params, x0, us, d).states.dtype == jnp.float64
    )
    spec = rd.lyapunov_spectrum(model, params, x0, us, key=jax.random.key(3))
    ref_spec = rd.lyapunov_spectrum(model, wide, x0, us, key=jax.random.key(3))
    np.testing.assert_array_equal(spec.exponents, ref_spec.exponents)


# The rest of the public API under the same rule: each function of float32
# params and float64 states/inputs gives exactly what it gives with the
# params cast to float64 first (the cast is exact), in float64.

_RNN = rd.models.rnn(2, 3, readout=1)
_N = _RNN.state_size
_KEY = jax.random.key(3)
_US = jax.random.normal(jax.random.key(1), (12, 2), jnp.float64)
_YS = jax.random.normal(jax.random.key(2), (12, 1), jnp.float64)
_XS = 0.3 * jax.random.normal(jax.random.key(4), (6, _N), jnp.float64)
_S = jnp.linspace(0.0, 1.0, 3)

WHOLE_API = {
    "jacobian_norms": lambda p: rd.jacobian_norms(_RNN, p, _XS, _US[:6], key=_KEY),
    "trajectory_lipschitz": lambda p: rd.trajectory_lipschitz(
        _RNN, p, _XS[0], _US, key=_KEY
    ),
    "cost_smoothness": lambda p: rd.cost_smoothness(
        _RNN, p, _XS[0], _US, _YS, lengths=(4, 12), radius=0.1, num_samples=2, key=_KEY
    ),
    "jacobian_lipschitz": lambda p: rd.jacobian_lipschitz(
        _RNN, p, _XS, _US[:6], key=_KEY
    ),
    "ensemble_entropy": lambda p: rd.ensemble_entropy(_RNN, p, _XS, _US[:3], k=2),
    "fixed_points": lambda p: rd.fixed_points(_RNN, p, _US[0], _XS),
    "classify_attractor": lambda p: rd.classify_attractor(
        _RNN, p, _XS[0], _US[0], n_steps=100, burn_in=100, max_period=8, key=_KEY
    ),
    "largest_lyapunov_exponent": lambda p: rd.largest_lyapunov_exponent(
        _RNN, p, _XS[0], _US, key=_KEY
    ),
    "line": lambda p: rd.landscape.line(_RNN, p, p, _XS[0], _US, _YS, _S).loss,
    "grid_2d": lambda p: (
        rd.landscape.grid_2d(_RNN, p, p, p, _XS[0], _US, _YS, _S, _S).loss
    ),
    "measure_smoothness": lambda p: rd.smoothness.measure_smoothness(
        _RNN, p, _XS[0], _US, lengths=(4, 8, 12), radius=0.1, num_samples=2, key=_KEY
    ),
    "orbit_outputs": lambda p: rd.orbit.orbit_outputs(
        _RNN, p, _US[:2], _XS[:2], steps=10, burn_in=5
    ),
}


@pytest.mark.parametrize("name", sorted(WHOLE_API))
def test_whole_api_computes_mixed_dtypes_in_the_widest(name):
    fn = WHOLE_API[name]
    narrow = _RNN.init(jax.random.key(0), dtype=jnp.float32)
    wide = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), narrow)
    got = jax.tree_util.tree_leaves(fn(narrow))
    ref = jax.tree_util.tree_leaves(fn(wide))
    assert len(got) == len(ref)
    floats = 0
    for g, r in zip(got, ref, strict=True):
        if isinstance(r, str):
            assert g == r
            continue
        g, r = np.asarray(g), np.asarray(r)
        if np.issubdtype(r.dtype, np.inexact):
            floats += 1
            assert g.dtype == r.dtype and g.dtype.itemsize >= 8, name
        np.testing.assert_array_equal(g, r)
    assert floats
