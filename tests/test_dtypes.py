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
