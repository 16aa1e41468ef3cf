"""Tests of rnn_dyn.models: PyTorch-layout cells, the flax adapter, the protocol.

Random draws go through NumPy generators seeded from ``getkey`` keys, and checks
run in NumPy: every eager JAX op compiles once per shape, which would dominate
the runtime of this file.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import AD_RTOL, ALL_MODELS, model_id, np_rng, sigmoid

import rnn_dyn as rd

# Agreement of two float64 implementations of the same recurrence.
IMPL_RTOL = 1e-10

CELL_FACTORIES = {"lstm": rd.models.lstm, "gru": rd.models.gru, "rnn": rd.models.rnn}
NUM_GATES = {"lstm": 4, "gru": 3, "rnn": 1, "rnn_relu": 1}


def _rel_err(x, y):
    """Max-norm relative error of two pytrees, in NumPy."""
    a = np.concatenate([np.ravel(v) for v in jax.tree_util.tree_leaves(x)])
    b = np.concatenate([np.ravel(v) for v in jax.tree_util.tree_leaves(y)])
    assert a.shape == b.shape
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def _leaves_equal(x, y):
    xs, xd = jax.tree_util.tree_flatten(x)
    ys, yd = jax.tree_util.tree_flatten(y)
    assert xd == yd
    for a, b in zip(xs, ys, strict=True):
        np.testing.assert_array_equal(a, b)


def _fill_random(shapes, key):
    """Replace the ``ShapeDtypeStruct`` leaves of a pytree by U(-1, 1) draws."""
    rng = np_rng(key)
    return jax.tree_util.tree_map(
        lambda s: jnp.asarray(np.asarray(rng.uniform(-1.0, 1.0, s.shape), s.dtype)),
        shapes,
    )


def _random_params(model, key):
    """Params of ``model`` drawn from U(-1, 1), shaped as ``model.init`` makes them."""
    return _fill_random(jax.eval_shape(model.init, key), key)


def _random_problem(model, key, n_steps):
    """Return (x0, us): a random initial state and random inputs, float64."""
    rng = np_rng(key)
    x0 = 0.5 * rng.standard_normal(model.state_size)
    us = rng.standard_normal((n_steps, model.input_size))
    return jnp.asarray(x0), jnp.asarray(us)


def _make_cell(kind, input_size, hidden, *, readout=None, bias=True):
    if kind == "rnn_relu":
        return rd.models.rnn(
            input_size, hidden, readout=readout, bias=bias, nonlinearity="relu"
        )
    return CELL_FACTORIES[kind](input_size, hidden, readout=readout, bias=bias)


# --------------------------------------------------------------------------- #
# An independent NumPy implementation of PyTorch's recurrent cells
# --------------------------------------------------------------------------- #


def numpy_rollout(kind, params, hidden, x0, us):
    """Roll out torch.nn.{LSTM,GRU,RNN}'s equations; return (states, outputs).

    ``states[t]`` is the state before reading ``us[t]`` ([h, c] for the LSTM) and
    ``outputs[t]`` is h_{t+1}, or its readout ``W h_{t+1} + b``.
    """
    zeros = np.zeros(NUM_GATES[kind] * hidden)
    as_np = lambda a, default: default if a is None else np.asarray(a)
    w_ih, w_hh = np.asarray(params.weight_ih), np.asarray(params.weight_hh)
    b_ih, b_hh = as_np(params.bias_ih, zeros), as_np(params.bias_hh, zeros)
    r_w, r_b = as_np(params.readout_weight, None), as_np(params.readout_bias, 0.0)
    x0 = np.asarray(x0)
    h, c = x0[:hidden], x0[hidden:]
    states, outputs = [], []
    for u in np.asarray(us):
        states.append(np.concatenate([h, c]))
        gi = w_ih @ u + b_ih
        gh = w_hh @ h + b_hh
        if kind == "lstm":
            i, f, g, o = np.split(gi + gh, 4)
            c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
            h = sigmoid(o) * np.tanh(c)
        elif kind == "gru":
            i_r, i_z, i_n = np.split(gi, 3)
            h_r, h_z, h_n = np.split(gh, 3)
            r = sigmoid(i_r + h_r)
            z = sigmoid(i_z + h_z)
            n = np.tanh(i_n + r * h_n)
            h = (1.0 - z) * n + z * h
        elif kind == "rnn":
            h = np.tanh(gi + gh)
        else:
            h = np.maximum(gi + gh, 0.0)
        outputs.append(h if r_w is None else r_w @ h + r_b)
    return np.stack(states), np.stack(outputs)


PLAIN = lambda f: f
JIT = lambda f: jax.jit(f, static_argnums=0)
# Each cell with and without bias and readout, and once under jit; the full
# cross product would add compile time and no code path.
REFERENCE_CASES = [
    pytest.param(kind, bias, readout, transform, id=f"{kind}-{case_id}")
    for kind in NUM_GATES
    for bias, readout, transform, case_id in (
        (True, None, PLAIN, "bias-h"),
        (False, 2, PLAIN, "nobias-readout"),
        (True, 2, JIT, "bias-readout-jit"),
    )
]


@pytest.mark.parametrize(("kind", "bias", "readout", "transform"), REFERENCE_CASES)
def test_simulate_cell_matches_numpy_reference(kind, bias, readout, transform, getkey):
    input_size, hidden, n_steps = 3, 4, 9
    model = _make_cell(kind, input_size, hidden, readout=readout, bias=bias)
    params = _random_params(model, getkey())
    x0, us = _random_problem(model, getkey(), n_steps)

    states, outputs = transform(rd.simulate)(model, params, x0, us)
    ref_states, ref_outputs = numpy_rollout(kind, params, hidden, x0, us)

    assert states.shape == (n_steps, model.state_size)
    assert outputs.shape == (n_steps, model.output_size)
    assert states.dtype == outputs.dtype == jnp.float64
    np.testing.assert_array_equal(states[0], x0)
    assert _rel_err(states, ref_states) < IMPL_RTOL
    assert _rel_err(outputs, ref_outputs) < IMPL_RTOL


# --------------------------------------------------------------------------- #
# PyTorch interoperability
# --------------------------------------------------------------------------- #

TORCH_KINDS = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}
MODEL_CLASSES = {
    "lstm": rd.models.LSTM,
    "gru": rd.models.GRU,
    "rnn": rd.models.ElmanRNN,
}


def _torch_rollout(torch, module, lin, x0, us, hidden, is_lstm):
    """Run a torch module (and readout) on one unbatched sequence.

    Returns the outputs `(N, p)` and the final state, ``[h_N, c_N]`` for the LSTM.
    """
    with torch.no_grad():
        u_t = torch.from_numpy(np.array(us))
        x_t = torch.from_numpy(np.array(x0))
        if is_lstm:
            out, (h_n, c_n) = module(u_t, (x_t[None, :hidden], x_t[None, hidden:]))
            last = torch.cat([h_n[0], c_n[0]])
        else:
            out, h_n = module(u_t, x_t[None, :])
            last = h_n[0]
        if lin is not None:
            out = lin(out)
    return out.numpy(), last.numpy()


def _torch_to_numpy(state_dict, prefix=""):
    return {prefix + k: v.detach().numpy() for k, v in state_dict.items()}


def _numpy_to_torch(torch, state_dict):
    # np.array copies: arrays from JAX are read-only and torch warns on them.
    return {k: torch.from_numpy(np.array(v)) for k, v in state_dict.items()}


@pytest.mark.parametrize(
    ("bias", "readout"),
    [(True, None), (False, "decoder")],
    ids=["bias-h", "nobias-readout"],
)
@pytest.mark.parametrize("kind", list(TORCH_KINDS))
def test_from_state_dict_reproduces_torch(kind, bias, readout, getkey):
    torch = pytest.importorskip("torch")
    input_size, hidden, p, n_steps = 3, 5, 2, 11
    torch.manual_seed(int(np_rng(getkey()).integers(2**31)))
    module = getattr(torch.nn, TORCH_KINDS[kind])(input_size, hidden, bias=bias)
    module = module.double()
    lin = torch.nn.Linear(hidden, p).double() if readout else None
    state_dict = _torch_to_numpy(module.state_dict())
    if lin is not None:
        state_dict |= _torch_to_numpy(lin.state_dict(), prefix=readout + ".")

    model, params = MODEL_CLASSES[kind].from_state_dict(state_dict, readout=readout)

    expected = _make_cell(kind, input_size, hidden, readout=readout and p, bias=bias)
    assert model == expected
    shapes = jax.eval_shape(expected.init, getkey())
    assert jax.tree_util.tree_structure(params) == jax.tree_util.tree_structure(shapes)
    assert all(leaf.dtype == jnp.float64 for leaf in jax.tree_util.tree_leaves(params))

    x0, us = _random_problem(model, getkey(), n_steps)
    torch_out, torch_last = _torch_rollout(
        torch, module, lin, x0, us, hidden, kind == "lstm"
    )
    # One extra step so that states[-1] is torch's final state.
    us_ext = jnp.asarray(np.concatenate([us, np.zeros((1, input_size))]))
    states, outputs = rd.simulate(model, params, x0, us_ext)
    assert _rel_err(outputs[:-1], torch_out) < IMPL_RTOL
    assert _rel_err(states[-1], torch_last) < IMPL_RTOL


@pytest.mark.parametrize("readout", [None, 2], ids=["h", "readout"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("kind", list(TORCH_KINDS))
def test_state_dict_round_trips_through_torch(kind, bias, readout, getkey):
    torch = pytest.importorskip("torch")
    input_size, hidden = 2, 3
    model = _make_cell(kind, input_size, hidden, readout=readout, bias=bias)
    params = _random_params(model, getkey())

    state_dict = model.state_dict(params, readout="decoder")
    assert all(isinstance(v, np.ndarray) for v in state_dict.values())
    module = getattr(torch.nn, TORCH_KINDS[kind])(input_size, hidden, bias=bias)
    module = module.double()
    cell_sd = {k: v for k, v in state_dict.items() if not k.startswith("decoder.")}
    module.load_state_dict(_numpy_to_torch(torch, cell_sd))  # strict: same keys
    torch_sd = _torch_to_numpy(module.state_dict())
    if readout is not None:
        lin = torch.nn.Linear(hidden, readout).double()
        lin_sd = {
            k.removeprefix("decoder."): v
            for k, v in state_dict.items()
            if k.startswith("decoder.")
        }
        lin.load_state_dict(_numpy_to_torch(torch, lin_sd))
        torch_sd |= _torch_to_numpy(lin.state_dict(), prefix="decoder.")

    # torch now holds exactly our arrays (so it computes what the reproduce test
    # checks), and its state dict rebuilds the same model and params.
    assert torch_sd.keys() == state_dict.keys()
    for k, v in state_dict.items():
        np.testing.assert_array_equal(torch_sd[k], v)
    model2, params2 = type(model).from_state_dict(
        torch_sd, readout=None if readout is None else "decoder"
    )
    assert model2 == model
    _leaves_equal(params2, params)


def test_from_state_dict_accepts_keys_without_layer_suffix(getkey):
    model = rd.models.gru(2, 3, readout=1)
    params = _random_params(model, getkey())
    state_dict = {
        k.removesuffix("_l0"): v
        for k, v in model.state_dict(params, readout="out").items()
    }
    assert "weight_ih" in state_dict
    model2, params2 = rd.models.GRU.from_state_dict(state_dict, readout="out")
    assert model2 == model
    _leaves_equal(params2, params)


def _lstm_state_dict(readout=None, input_size=2, hidden=3):
    rng = np.random.default_rng(0)
    sd = {
        "weight_ih_l0": rng.normal(size=(4 * hidden, input_size)),
        "weight_hh_l0": rng.normal(size=(4 * hidden, hidden)),
        "bias_ih_l0": rng.normal(size=(4 * hidden,)),
        "bias_hh_l0": rng.normal(size=(4 * hidden,)),
    }
    if readout is not None:
        sd["dec.weight"] = rng.normal(size=(readout, hidden))
        sd["dec.bias"] = rng.normal(size=(readout,))
    return sd


def _drop(sd, key):
    return {k: v for k, v in sd.items() if k != key}


BAD_STATE_DICTS = [
    pytest.param(
        _drop(_lstm_state_dict(), "weight_hh_l0"), None, "'weight_hh'", id="no-w_hh"
    ),
    pytest.param(
        _drop(_lstm_state_dict(), "weight_ih_l0"), None, "'weight_ih'", id="no-w_ih"
    ),
    pytest.param(
        _drop(_lstm_state_dict(), "bias_hh_l0"), None, "bias_hh", id="no-bias_hh"
    ),
    pytest.param(_lstm_state_dict(), "dec", "'dec.weight'", id="no-readout"),
    pytest.param(
        _lstm_state_dict() | {"weight_hh_l0": np.zeros((9, 3))},
        None,
        r"weight_hh.*\(9, 3\)",
        id="gates-w_hh",
    ),
    pytest.param(
        _lstm_state_dict() | {"weight_ih_l0": np.zeros((8, 2))},
        None,
        r"weight_ih.*\(8, 2\)",
        id="gates-w_ih",
    ),
    pytest.param(
        _lstm_state_dict(2) | {"dec.weight": np.zeros((2, 4))},
        "dec",
        r"dec\.weight.*\(2, 4\)",
        id="readout-weight",
    ),
]


# Bad bias shapes and ranks of weights, rejected as the entries above.
UNCHECKED_STATE_DICTS = [
    pytest.param(
        _lstm_state_dict() | {"bias_ih_l0": np.zeros(3)},
        None,
        r"bias_ih.*\(3,\)",
        id="bias_ih",
    ),
    pytest.param(
        _lstm_state_dict(2) | {"dec.bias": np.zeros(3)},
        "dec",
        r"dec\.bias.*\(3,\)",
        id="readout-bias",
    ),
    pytest.param(
        _lstm_state_dict() | {"weight_ih_l0": np.zeros(12)},
        None,
        r"weight_ih.*\(12,\)",
        id="1d-w_ih",
    ),
]


@pytest.mark.parametrize(
    ("state_dict", "readout", "match"), BAD_STATE_DICTS + UNCHECKED_STATE_DICTS
)
def test_from_state_dict_rejects_bad_entries_in_one_line(state_dict, readout, match):
    with pytest.raises(ValueError, match=match) as info:
        rd.models.LSTM.from_state_dict(state_dict, readout=readout)
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- #
# flax cells wrapped by from_flax
# --------------------------------------------------------------------------- #


def _stack_t(kernels):
    """Stack flax ``(in, out)`` kernels as PyTorch's ``(gates·out, in)`` weight."""
    return np.concatenate([np.asarray(k).T for k in kernels], axis=0)


def _cell_params(w_ih, w_hh, b_ih, b_hh):
    return rd.models.CellParams(*(jnp.asarray(a) for a in (w_ih, w_hh, b_ih, b_hh)))


def _linen_lstm_params(variables):
    p = variables["params"]
    b_hh = np.concatenate([p[k]["bias"] for k in ("hi", "hf", "hg", "ho")])
    return _cell_params(
        _stack_t(p[k]["kernel"] for k in ("ii", "if", "ig", "io")),
        _stack_t(p[k]["kernel"] for k in ("hi", "hf", "hg", "ho")),
        np.zeros_like(b_hh),
        b_hh,
    )


def _linen_gru_params(variables):
    # linen.GRUCell: ir, iz, in with bias; hr, hz without; hn with.
    p = variables["params"]
    b_hn = np.asarray(p["hn"]["bias"])
    return _cell_params(
        _stack_t(p[k]["kernel"] for k in ("ir", "iz", "in")),
        _stack_t(p[k]["kernel"] for k in ("hr", "hz", "hn")),
        np.concatenate([p[k]["bias"] for k in ("ir", "iz", "in")]),
        np.concatenate([np.zeros_like(b_hn), np.zeros_like(b_hn), b_hn]),
    )


def _nnx_lstm_params(cell):
    b_hh = np.concatenate(
        [getattr(cell, k).bias[...] for k in ("hi", "hf", "hg", "ho")]
    )
    return _cell_params(
        _stack_t(getattr(cell, k).kernel[...] for k in ("ii", "if_", "ig", "io")),
        _stack_t(getattr(cell, k).kernel[...] for k in ("hi", "hf", "hg", "ho")),
        np.zeros_like(b_hh),
        b_hh,
    )


def _nnx_gru_params(cell):
    # nnx.GRUCell: dense_i (I, 3H) with bias, dense_h (H, 3H) without; gates r, z, n.
    b_ih = np.asarray(cell.dense_i.bias[...])
    return _cell_params(
        _stack_t([cell.dense_i.kernel[...]]),
        _stack_t([cell.dense_h.kernel[...]]),
        b_ih,
        np.zeros_like(b_ih),
    )


def _flax_cell(api, kind, input_size, hidden, key, dtype=jnp.float64):
    """Return a flax cell and its variables (None for nnx), with random weights.

    The weights, biases included, are drawn in NumPy into the shapes that flax's
    own init makes (found by `jax.eval_shape`): compiling flax's orthogonal and
    truncated-normal initialisers would take most of this file's runtime.
    """
    from flax import linen, nnx

    if api == "linen":
        cell = {"lstm": linen.LSTMCell, "gru": linen.GRUCell}[kind](
            features=hidden, param_dtype=dtype
        )
        shapes = jax.eval_shape(
            lambda k: cell.init(
                k, cell.initialize_carry(k, (input_size,)), jnp.zeros(input_size, dtype)
            ),
            key,
        )
        return cell, _fill_random(shapes, key)
    cls = {"lstm": nnx.LSTMCell, "gru": nnx.GRUCell}[kind]
    abstract = nnx.eval_shape(
        lambda: cls(input_size, hidden, param_dtype=dtype, rngs=nnx.Rngs(0))
    )
    graphdef, state = nnx.split(abstract)
    return nnx.merge(graphdef, _fill_random(state, key)), None


def _flax_case(api, kind, input_size, hidden, key):
    """Wrap a float64 flax cell; return (model, params, native model, native params)."""
    cell, variables = _flax_cell(api, kind, input_size, hidden, key)
    model, params = rd.models.from_flax(cell, variables, input_size=input_size)
    if api == "linen":
        convert = {"lstm": _linen_lstm_params, "gru": _linen_gru_params}[kind]
        native_params = convert(params)
    else:
        native_params = {"lstm": _nnx_lstm_params, "gru": _nnx_gru_params}[kind](cell)
    return model, params, CELL_FACTORIES[kind](input_size, hidden), native_params


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("api", ["linen", "nnx"])
def test_from_flax_matches_native_cell(api, kind, getkey):
    pytest.importorskip("flax")
    input_size, hidden, n_steps = 3, 4, 8
    model, params, native, native_params = _flax_case(
        api, kind, input_size, hidden, getkey()
    )
    assert isinstance(model, rd.models.Model)
    assert model.state_size == native.state_size
    assert (model.input_size, model.output_size) == (input_size, hidden)
    assert all(leaf.dtype == jnp.float64 for leaf in jax.tree_util.tree_leaves(params))
    x0_model = model.initial_state(params)
    assert x0_model.shape == (model.state_size,)
    assert x0_model.dtype == jnp.float64

    x0, us = _random_problem(native, getkey(), n_steps)
    # flax carries (c, h), flattened as [c, h]; the native LSTM state is [h, c].
    x0_flax = jnp.asarray(np.roll(x0, hidden)) if kind == "lstm" else x0
    _, flax_outputs = rd.simulate(model, params, x0_flax, us)
    _, native_outputs = rd.simulate(native, native_params, x0, us)
    _, ref_outputs = numpy_rollout(kind, native_params, hidden, x0, us)
    assert flax_outputs.dtype == jnp.float64
    assert _rel_err(flax_outputs, native_outputs) < IMPL_RTOL
    assert _rel_err(flax_outputs, ref_outputs) < IMPL_RTOL


@pytest.mark.parametrize("api", ["linen", pytest.param("nnx", marks=pytest.mark.slow)])
def test_from_flax_forward_gradient_equals_reverse_gradient(api, getkey):
    pytest.importorskip("flax")
    input_size, hidden, n_steps = 2, 3, 7
    model, params, _, _ = _flax_case(api, "lstm", input_size, hidden, getkey())
    x0, us = _random_problem(model, getkey(), n_steps)
    ys = jnp.asarray(np_rng(getkey()).standard_normal((n_steps, model.output_size)))

    grads = [
        jax.jit(fn, static_argnums=0, static_argnames="loss")(
            model, params, x0, us, ys, loss="mse"
        )
        for fn in (rd.forward_gradient, rd.reverse_gradient)
    ]
    fwd, rev = jax.tree_util.tree_map(np.asarray, grads)
    assert jax.tree_util.tree_structure(fwd) == jax.tree_util.tree_structure(params)
    assert _rel_err(fwd, rev) < AD_RTOL
    assert all(np.any(leaf != 0) for leaf in jax.tree_util.tree_leaves(rev))


def test_from_flax_init_casts_to_dtype(getkey):
    pytest.importorskip("flax")
    from flax import linen

    uniform = linen.initializers.uniform()  # flax's defaults take long to compile
    cell = linen.GRUCell(
        features=3,
        param_dtype=jnp.float64,
        kernel_init=uniform,
        recurrent_kernel_init=uniform,
        bias_init=uniform,
    )
    key = getkey()
    model, params = rd.models.from_flax(cell, input_size=2, key=key)
    _leaves_equal(model.init(key), params)
    assert isinstance(model, rd.models.Model)
    shapes = jax.eval_shape(lambda k: model.init(k, dtype=jnp.float32), getkey())
    leaves = jax.tree_util.tree_leaves(shapes)
    assert leaves and all(leaf.dtype == jnp.float32 for leaf in leaves)
    assert model.initial_state(shapes).dtype == jnp.float32
    assert jax.tree_util.tree_structure(shapes) == jax.tree_util.tree_structure(params)


@pytest.mark.parametrize("api", ["linen", "nnx"])
def test_from_flax_accepts_float32_cell(api, getkey):
    pytest.importorskip("flax")
    cell, variables = _flax_cell(api, "lstm", 2, 3, getkey(), dtype=jnp.float32)
    model, params = rd.models.from_flax(cell, variables, input_size=2)
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree_util.tree_leaves(params))
    x0 = model.initial_state(params)
    assert x0.dtype == jnp.float32
    outputs = rd.simulate(model, params, x0, jnp.ones((4, 2), jnp.float32)).outputs
    assert outputs.dtype == jnp.float32


def test_from_flax_rejects_bad_arguments(getkey):
    pytest.importorskip("flax")
    from flax import linen

    with pytest.raises(ValueError, match="flax"):
        rd.models.from_flax(object(), input_size=2)
    with pytest.raises(ValueError, match="key"):
        rd.models.from_flax(
            linen.GRUCell(features=3, param_dtype=jnp.float64), input_size=2
        )
    cell, _ = _flax_cell("nnx", "gru", 2, 3, getkey())
    with pytest.raises(ValueError, match="nnx"):
        rd.models.from_flax(cell, {"params": {}}, input_size=2)
    with pytest.raises(ValueError, match="input_size"):
        rd.models.from_flax(cell, input_size=-1)


# --------------------------------------------------------------------------- #
# Every model: dtypes, initial state, the Model protocol
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("model", ALL_MODELS, ids=model_id)
def test_init_respects_dtype(model, getkey):
    # Abstract evaluation gives the dtypes eager calls give, without compiling.
    for dtype, expected in ((jnp.float32, jnp.float32), (None, jnp.float64)):
        params = jax.eval_shape(lambda k, d=dtype: model.init(k, dtype=d), getkey())
        leaves = jax.tree_util.tree_leaves(params)
        assert leaves and all(leaf.dtype == expected for leaf in leaves)
        x0 = jax.eval_shape(model.initial_state, params)
        assert x0.shape == (model.state_size,)
        assert x0.dtype == expected


@pytest.mark.parametrize("model", ALL_MODELS, ids=model_id)
def test_model_satisfies_protocol(model, getkey):
    assert isinstance(model, rd.models.Model)
    for name in ("state_size", "input_size", "output_size"):
        value = getattr(model, name)
        assert isinstance(value, int) and value >= 0
    hash(model)  # a static argument of jit
    params = jax.eval_shape(model.init, getkey())
    x = jax.ShapeDtypeStruct((model.state_size,), jnp.float64)
    u = jax.ShapeDtypeStruct((model.input_size,), jnp.float64)
    assert jax.eval_shape(model.f, params, x, u).shape == (model.state_size,)
    assert jax.eval_shape(model.g, params, x, u).shape == (model.output_size,)


def test_cell_init_is_torch_default_and_deterministic(getkey):
    model = rd.models.lstm(3, 16, readout=2)
    key = getkey()
    params = model.init(key, dtype=jnp.float32)
    assert params.weight_ih.shape == (64, 3)
    assert params.weight_hh.shape == (64, 16)
    assert model.state_size == 32
    leaves = jax.tree_util.tree_leaves(params)
    assert len(leaves) == 6 and all(leaf.dtype == jnp.float32 for leaf in leaves)
    x0 = model.initial_state(params)
    assert x0.dtype == jnp.float32
    np.testing.assert_array_equal(x0, np.zeros(32))
    flat = np.concatenate([np.ravel(a) for a in leaves])
    bound = np.float32(1.0 / np.sqrt(16))
    assert np.max(np.abs(flat)) <= bound
    assert np.max(np.abs(flat)) > 0.9 * bound  # U(-1/√H, 1/√H), not narrower
    _leaves_equal(model.init(key, dtype=jnp.float32), params)


# --------------------------------------------------------------------------- #
# Factories reject bad sizes
# --------------------------------------------------------------------------- #

BAD_SIZES = [
    pytest.param((3, -1), {}, "hidden_size", id="hidden-negative"),
    pytest.param((3, 0), {}, "hidden_size", id="hidden-zero"),
    pytest.param((-1, 4), {}, "input_size", id="input-negative"),
    pytest.param((3, 4), {"readout": 0}, "readout", id="readout-zero"),
    pytest.param((3, 4), {"readout": -2}, "readout", id="readout-negative"),
]


@pytest.mark.parametrize(
    "factory", list(CELL_FACTORIES.values()), ids=list(CELL_FACTORIES)
)
@pytest.mark.parametrize(("args", "kwargs", "match"), BAD_SIZES)
def test_cell_factory_rejects_bad_sizes(factory, args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        factory(*args, **kwargs)


@pytest.mark.parametrize("nonlinearity", ["sigmoid", "Tanh", ""])
def test_rnn_rejects_bad_nonlinearity(nonlinearity):
    with pytest.raises(ValueError, match="nonlinearity"):
        rd.models.rnn(3, 4, nonlinearity=nonlinearity)


def test_cell_factory_accepts_autonomous_input(getkey):
    model = rd.models.gru(0, 3)
    params = _random_params(model, getkey())
    assert params.weight_ih.shape == (9, 0)
    x0 = jnp.asarray(np.full(3, 0.5))
    _, outputs = rd.simulate(model, params, x0, jnp.zeros((5, 0)))
    _, ref_outputs = numpy_rollout("gru", params, 3, x0, np.zeros((5, 0)))
    assert _rel_err(outputs, ref_outputs) < IMPL_RTOL
