import jax
import jax.numpy as jnp
import numpy as np
import pytest

import rnn_dyn as rd
from rnn_dyn.examples import chaotic_lstm


def _numpy_chaotic_lstm(W, h, c, steps):
    """Eq. (S17)-(S18) written out in NumPy, with the matrices by name."""
    sig = lambda z: 1 / (1 + np.exp(-z))
    hs = []
    for _ in range(steps):
        c = sig(W["W_hf"] @ h) * c + sig(W["W_hi"] @ h) * np.tanh(W["W_hg"] @ h)
        h = sig(W["W_ho"] @ h) * np.tanh(c)
        hs.append(h)
    return np.array(hs)


@pytest.mark.parametrize(
    "variant, flipped",
    [("printed", {}), ("authors", {("W_hi", 0, 1): -4.0, ("W_ho", 1, 1): -7.0})],
)
def test_chaotic_lstm_follows_eq_s17_s18(variant, flipped):
    W = {
        "W_hi": np.array([[-1.0, 4], [-3, -2]]),
        "W_hf": np.array([[-2.0, 6], [0, -6]]),
        "W_hg": np.array([[-1.0, -6], [6, -9]]),
        "W_ho": np.array([[4.0, 1], [-9, 7]]),
    }
    for (name, i, j), value in flipped.items():
        W[name][i, j] = value
    model, params, x0 = chaotic_lstm(variant)
    np.testing.assert_array_equal(x0, [0.5, 0.5, 0.5, 0.5])
    assert model.input_size == 0 and params.bias_ih is None
    assert jax.flatten_util.ravel_pytree(params)[0].size == 16  # θ_true has 16 entries
    # 30 steps: chaos (λ₁ ≈ 0.17) amplifies rounding differences by e^{0.17 t}.
    _, outputs = rd.simulate(model, params, x0, jnp.zeros((30, 0)))
    # g(x_t) = h_{t+1}: the output PyTorch's nn.LSTM returns at step t
    expected = _numpy_chaotic_lstm(W, np.full(2, 0.5), np.full(2, 0.5), 30)
    np.testing.assert_allclose(outputs, expected, rtol=1e-12, atol=1e-14)


def test_chaotic_lstm_rejects_unknown_variant():
    with pytest.raises(ValueError, match="variant must be one of"):
        chaotic_lstm("typo")


def test_registry_builds_every_named_system_and_model():
    import jax.numpy as jnp

    from rnn_dyn import examples

    for name in examples.SYSTEMS:
        model, params, x0 = examples.system(name)
        assert x0.shape == (model.state_size,)
    model, params, _ = examples.system("linear", size=5, seed=3)
    radius = float(jnp.max(jnp.abs(jnp.linalg.eigvals(params.a))))
    assert abs(radius - 0.9) < 1e-12 and model.state_size == 5
    for name in examples.MODELS:
        model, params, x0 = examples.random_model(name, input_size=2, hidden=3)
        assert model.f(params, x0, jnp.zeros(model.input_size)).shape == x0.shape
    for name in examples.CELLS:
        assert examples.cell(name, 2, 3, readout=4).output_size == 4
    with pytest.raises(ValueError, match="cell must be one of"):
        examples.cell("lorenz", 1, 1, readout=None)
    with pytest.raises(ValueError, match="system must be one of"):
        examples.system("lorenz")
