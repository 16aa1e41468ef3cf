"""Tests of the orthogonal RNN (expRNN) and the stable LSTM (Miller & Hardt).

References: SciPy's ``expm`` and a NumPy modReLU for the orthogonal RNN's map,
NumPy eigenvalues and Cayley transforms for its initialisations, central
differences for its gradient; for the stable LSTM, the column/row sums in NumPy,
`lstm`'s map, and dense state Jacobians from ``jax.jacfwd`` measured in the norm
of Miller & Hardt's contraction argument.
"""

import dataclasses
import functools as ft

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.linalg
import scipy.stats
from helpers import FD_RTOL, fd_directional, np_rng, sigmoid

import rnn_dyn as rd
from rnn_dyn.models.slstm import FORGET_INPUT_BOUND, RECURRENT_BOUNDS

# ‖WᵀW - I‖₂ after expm of a skew matrix: a few ulps times n.
ORTHO_TOL = {jnp.float32: 1e-6, jnp.float64: 1e-12}
# Relative slack for "column sum ≤ bound" after a rescaling rounded once.
SUM_RTOL = {jnp.float32: 1e-6, jnp.float64: 1e-14}
DTYPES = [jnp.float32, jnp.float64]


def _uniform_params(model, key, scale=1.0):
    """Params shaped as ``model.init`` makes them, drawn from U(-scale, scale)."""
    rng = np_rng(key)
    shapes = jax.eval_shape(model.init, key)
    return jax.tree_util.tree_map(
        lambda s: jnp.asarray(rng.uniform(-scale, scale, s.shape)), shapes
    )


@ft.partial(jax.jit, static_argnums=(0, 2))
def _init(model, key, dtype=None):
    return model.init(key, dtype=dtype)


def _orthogonality_error(w):
    w = np.asarray(w, np.float64)
    return np.linalg.norm(w.T @ w - np.eye(w.shape[0]), 2)


# --------------------------------------------------------------------------- #
# Orthogonal RNN
#
# Every function that holds a matrix exponential takes seconds to compile, so
# the tests share one model and a few jitted functions (compiled once per dtype).
# --------------------------------------------------------------------------- #

ORNN = rd.models.ornn(2, 6, readout=2)
# The expRNN code of the paper: S = triu(A, 1) - triu(A, 1)ᵀ, no input bias.
AUTHORS = rd.models.ornn(2, 6, readout=2, variant="authors")
N_STEPS = 6


def numpy_ornn_step(params, x, u):
    """h' = sign(z) relu(|z| + b), z = expm(A - Aᵀ) x + W_ih u + b_ih, in NumPy."""
    a = np.asarray(params.recurrent_generator)
    z = scipy.linalg.expm(a - a.T) @ x + np.asarray(params.weight_ih) @ u
    if params.bias_ih is not None:
        z = z + np.asarray(params.bias_ih)
    return np.sign(z) * np.maximum(np.abs(z) + np.asarray(params.modrelu_bias), 0.0)


@jax.jit
def _f_g_prepared(params, x, u):
    prepared, p = ORNN.prepare(params)
    return ORNN.f(params, x, u), ORNN.g(params, x, u), prepared.f(p, x, u)


def _rollout_loss(params, x0, us, ys, *, model):
    """MSE of a rollout through the prepared ``model``; the aux output is W.

    Always pass ``model`` by keyword: jit caches a call that omits a static
    argument apart from one that names it, and would compile twice.
    """
    prepared, p = model.prepare(params)
    outputs = rd.simulate(prepared, p, x0, us).outputs
    return jnp.mean((outputs - ys) ** 2), p.recurrent_generator


_loss_and_grad = jax.jit(
    jax.value_and_grad(_rollout_loss, has_aux=True), static_argnames="model"
)


def _regression_problem(key, dtype):
    rng = np_rng(key)
    x0 = jnp.asarray(0.5 * rng.standard_normal(ORNN.state_size), dtype)
    us = jnp.asarray(rng.standard_normal((N_STEPS, ORNN.input_size)), dtype)
    ys = jnp.asarray(rng.standard_normal((N_STEPS, ORNN.output_size)), dtype)
    return x0, us, ys


def test_ornn_f_and_g_match_scipy_expm_and_numpy_modrelu(getkey):
    # A generic (not skew, not block-diagonal) A, and modReLU biases large
    # enough that some units are cut to zero.
    params = _uniform_params(ORNN, getkey())
    x = np_rng(getkey()).standard_normal(ORNN.state_size)
    u = np_rng(getkey()).standard_normal(ORNN.input_size)

    h, y, h_prepared = _f_g_prepared(params, jnp.asarray(x), jnp.asarray(u))

    ref = numpy_ornn_step(params, x, u)
    assert np.any(ref == 0) and np.any(ref != 0)
    np.testing.assert_allclose(h, ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h_prepared, ref, rtol=1e-12, atol=1e-14)
    r_w, r_b = np.asarray(params.readout_weight), np.asarray(params.readout_bias)
    np.testing.assert_allclose(y, r_w @ ref + r_b, rtol=1e-12, atol=1e-14)


def test_ornn_without_bias_and_readout_matches_numpy(getkey):
    # Through `prepare` (W given), so no matrix exponential is compiled here.
    model = rd.models.ornn(2, 6, bias=False)
    params = _uniform_params(model, getkey())
    w = scipy.linalg.expm(
        np.asarray(params.recurrent_generator - params.recurrent_generator.T)
    )
    prepared = dataclasses.replace(model, prepared=True)
    p = params._replace(recurrent_generator=jnp.asarray(w))
    x = np_rng(getkey()).standard_normal(6)
    u = np_rng(getkey()).standard_normal(2)
    h, y = jax.jit(lambda x, u: (prepared.f(p, x, u), prepared.g(p, x, u)))(x, u)
    ref = numpy_ornn_step(params, x, u)
    np.testing.assert_allclose(h, ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(y, h)
    assert model.output_size == 6 and params.bias_ih is None


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_ornn_recurrent_matrix_stays_orthogonal_under_adam(dtype, getkey):
    params = _init(ORNN, getkey(), dtype)
    assert ORNN.initial_state(params).dtype == dtype
    x0, us, ys = _regression_problem(getkey(), dtype)
    opt = optax.adam(0.1)

    @jax.jit
    def update(grads, state, params):
        # optax's bias correction raises a float to an int32 step count, which
        # the test suite's strict dtype promotion rejects.
        with jax.numpy_dtype_promotion("standard"):
            updates, state = opt.update(grads, state)
        return optax.apply_updates(params, updates), state

    state, a0 = opt.init(params), params.recurrent_generator
    losses = []
    for _ in range(10):
        (loss, w), grads = _loss_and_grad(params, x0, us, ys, model=ORNN)
        if not losses:  # orthogonal at init
            assert _orthogonality_error(w) < ORTHO_TOL[dtype]
        losses.append(float(loss))
        params, state = update(grads, state, params)
    (loss, w), grads = _loss_and_grad(params, x0, us, ys, model=ORNN)

    assert loss.dtype == w.dtype == params.recurrent_generator.dtype == dtype
    assert all(g.dtype == dtype for g in jax.tree_util.tree_leaves(grads))
    assert float(loss) < losses[0]
    # A moved well away from the block-diagonal init, off the 2×2 blocks too.
    assert np.max(np.abs(params.recurrent_generator - a0)) > 0.1
    assert _orthogonality_error(w) < ORTHO_TOL[dtype]


def _block_angles(params):
    """The upper entries a_k of the 2×2 blocks of S = A - Aᵀ, checked block-diagonal."""
    a = np.asarray(params.recurrent_generator)
    s = a - a.T
    blocks = np.zeros_like(s)
    for k in range(s.shape[0] // 2):
        block = slice(2 * k, 2 * k + 2)
        blocks[block, block] = s[block, block]
    np.testing.assert_array_equal(s, blocks)
    return s[::2, 1::2].diagonal().copy()


def test_ornn_henaff_init_has_unit_eigenvalues_at_the_drawn_angles(getkey):
    params = _init(ORNN, getkey(), jnp.float64)
    angles = _block_angles(params)
    assert angles.shape == (3,)
    x0, us, ys = _regression_problem(getkey(), jnp.float64)
    (_, w), _ = _loss_and_grad(params, x0, us, ys, model=ORNN)

    eig = np.linalg.eigvals(np.asarray(w))
    np.testing.assert_allclose(np.abs(eig), 1.0, atol=1e-13)
    expected = np.concatenate([angles, -angles])
    np.testing.assert_allclose(np.sort(np.angle(eig)), np.sort(expected), atol=1e-12)
    # The angles are U(-π, π): wide, and never past ±π.
    many = np.concatenate(
        [_block_angles(_init(ORNN, getkey(), jnp.float64)) for _ in range(10)]
    )
    assert np.all(np.abs(many) <= np.pi)
    assert np.min(many) < -2.0 and np.max(many) > 2.0


def test_ornn_cayley_init_has_uniform_cayley_spectrum(getkey):
    n = 200
    params = _init(rd.models.ornn(2, n, init="cayley"), getkey())
    angles = _block_angles(params)
    s = np.asarray(params.recurrent_generator - params.recurrent_generator.T)
    cayley = np.linalg.solve((np.eye(n) + s).T, (np.eye(n) - s).T).T  # (I-S)(I+S)⁻¹
    phases = np.sort(np.abs(np.angle(np.linalg.eigvals(cayley))))
    np.testing.assert_allclose(phases[::2], phases[1::2], atol=1e-10)  # ± pairs
    half = phases[::2]
    assert np.max(half) <= np.pi / 2 + 1e-12
    # Kolmogorov-Smirnov against U(0, π/2), 100 draws: 1% critical value 0.163.
    ecdf = np.arange(1, half.size + 1) / half.size
    assert np.max(np.abs(ecdf - half / (np.pi / 2))) < 0.163
    # The exponential map rotates by a_k = tan(φ_k / 2) ∈ [0, 1].
    np.testing.assert_allclose(np.sort(np.tan(half / 2)), np.sort(angles), atol=1e-10)


def test_ornn_gradient_matches_finite_differences(getkey):
    params = _uniform_params(ORNN, getkey())
    x0, us, ys = _regression_problem(getkey(), jnp.float64)
    _, grads = _loss_and_grad(params, x0, us, ys, model=ORNN)
    loss = lambda p: _loss_and_grad(p, x0, us, ys, model=ORNN)[0][0]

    flat = lambda tree: np.concatenate(
        [np.ravel(a) for a in jax.tree_util.tree_leaves(tree)]
    )
    off_diagonal = ~np.eye(ORNN.state_size, dtype=bool)
    assert np.all(np.asarray(grads.recurrent_generator)[off_diagonal] != 0)
    for _ in range(3):
        direction = _uniform_params(ORNN, getkey())
        fd = fd_directional(loss, params, direction)
        np.testing.assert_allclose(
            flat(grads) @ flat(direction), fd, rtol=FD_RTOL, atol=1e-10
        )


def test_ornn_prepare_keeps_structure_and_is_idempotent(getkey):
    # Abstract evaluation only: no matrix exponential is compiled.
    params = jax.eval_shape(ORNN.init, getkey())
    p = jax.eval_shape(lambda params: ORNN.prepare(params)[1], params)
    prepared = dataclasses.replace(ORNN, prepared=True)
    assert not ORNN.prepared and prepared != ORNN
    assert jax.eval_shape(prepared.init, getkey()) == p == params
    assert prepared.prepare(p) == (prepared, p)


# --------------------------------------------------------------------------- #
# Orthogonal RNN, the authors' variant (expRNN @000bafc)
#
# Every W below comes from the aux output of `_loss_and_grad`, so the variant
# compiles one matrix exponential (with its gradient) in all.
# --------------------------------------------------------------------------- #


def _authors_w_and_grad(params, key):
    """W and the gradient of a rollout loss, for the authors' variant."""
    x0, us, ys = _regression_problem(key, jnp.float64)
    (_, w), grads = _loss_and_grad(params, x0, us, ys, model=AUTHORS)
    return np.asarray(w), grads


def _strict_upper_skew(a):
    """S with S[i, j] = a[i, j] and S[j, i] = -a[i, j] for i < j, entry by entry."""
    n = a.shape[0]
    s = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            s[i, j], s[j, i] = a[i, j], -a[i, j]
    return s


def test_ornn_authors_recurrent_matrix_is_a_rotation_for_any_a(getkey):
    params = _init(AUTHORS, getkey(), jnp.float64)
    noise = np_rng(getkey()).standard_normal((6, 6))  # every entry, diagonal too
    moved = params._replace(recurrent_generator=params.recurrent_generator + noise)
    a = np.asarray(moved.recurrent_generator)
    assert np.min(np.abs(a + a.T)) > 0  # far from skew
    for p in (params, moved):
        w, _ = _authors_w_and_grad(p, getkey())
        assert _orthogonality_error(w) < ORTHO_TOL[jnp.float64]
        assert np.linalg.det(w) == pytest.approx(1.0, abs=1e-12)


def test_ornn_authors_recurrent_matrix_reads_only_the_strict_upper_triangle(getkey):
    params = _uniform_params(AUTHORS, getkey())
    a = np.asarray(params.recurrent_generator)
    below = np.tril(np.ones((6, 6), bool))  # the diagonal and the lower triangle
    other = np.where(below, np_rng(getkey()).standard_normal((6, 6)), a)
    assert np.all(other[below] != a[below])
    key = getkey()
    w, _ = _authors_w_and_grad(params, key)
    w_other, _ = _authors_w_and_grad(
        params._replace(recurrent_generator=jnp.asarray(other)), key
    )
    np.testing.assert_array_equal(w, w_other)
    np.testing.assert_allclose(
        w, scipy.linalg.expm(_strict_upper_skew(a)), rtol=1e-12, atol=1e-14
    )
    assert np.max(np.abs(w - scipy.linalg.expm(a - a.T))) > 0.1  # not rnn_dyn's W
    # One step (W given, so no matrix exponential is compiled): no input bias.
    prepared = dataclasses.replace(AUTHORS, prepared=True)
    p = params._replace(recurrent_generator=jnp.asarray(w))
    x = np_rng(getkey()).standard_normal(6)
    u = np_rng(getkey()).standard_normal(2)
    h = jax.jit(prepared.f)(p, x, u)
    z = w @ x + np.asarray(params.weight_ih) @ u
    ref = np.sign(z) * np.maximum(np.abs(z) + np.asarray(params.modrelu_bias), 0.0)
    np.testing.assert_allclose(h, ref, rtol=1e-12, atol=1e-14)


def test_ornn_authors_init_draws_as_exprnn(getkey):
    n, m = 201, 64
    model = rd.models.ornn(m, n, readout=3, variant="authors")
    params = _init(model, getkey(), jnp.float64)
    assert not model.bias and params.bias_ih is None
    # W_ih ~ N(0, 2/m), kaiming_normal_ for a ReLU: n m = 12864 draws put the
    # sample std within 3% (about five standard errors), and the 1% KS critical
    # value 1.63/√N rejects a uniform law of the same std (KS distance 0.057).
    w_ih = np.asarray(params.weight_ih).ravel()
    std = np.sqrt(2.0 / m)
    assert abs(w_ih.std() / std - 1) < 0.03
    assert abs(w_ih.mean()) < 5 * std / np.sqrt(w_ih.size)
    ks = scipy.stats.kstest(w_ih / std, "norm").statistic
    assert ks < 1.63 / np.sqrt(w_ih.size)
    b = np.asarray(params.modrelu_bias)
    assert np.max(np.abs(b)) <= 0.01 and np.max(np.abs(b)) > 0.009
    bound = 1 / np.sqrt(n)
    assert np.max(np.abs(params.readout_bias)) <= bound
    r = np.abs(np.asarray(params.readout_weight))
    assert np.max(r) <= bound and np.max(r) > 0.99 * bound
    # A: θ_k ~ U(-π, π) at A[2k, 2k+1], zero elsewhere (the last unit is fixed).
    a = np.asarray(params.recurrent_generator)
    angles = np.diag(a, 1)[::2]
    expected = np.zeros(n - 1)
    expected[::2] = angles
    np.testing.assert_array_equal(a, np.diag(expected, 1))
    assert angles.shape == (100,) and np.max(np.abs(angles)) < np.pi
    ecdf = np.arange(1, 101) / 100
    assert np.max(np.abs(ecdf - (np.sort(angles) + np.pi) / (2 * np.pi))) < 0.163
    # Same key: the same A, modReLU bias and readout as the rnn_dyn variant.
    key = getkey()
    ours, theirs = _init(ORNN, key, jnp.float64), _init(AUTHORS, key, jnp.float64)
    for name in ("recurrent_generator", "modrelu_bias", "readout_weight"):
        np.testing.assert_array_equal(getattr(ours, name), getattr(theirs, name))


def test_ornn_authors_init_is_block_diagonal_rotations(getkey):
    params = _init(AUTHORS, getkey(), jnp.float64)
    theta = np.diag(np.asarray(params.recurrent_generator), 1)[::2]
    blocks = [[[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]] for t in theta]
    w, _ = _authors_w_and_grad(params, getkey())
    np.testing.assert_allclose(w, scipy.linalg.block_diag(*blocks), atol=1e-14)
    assert np.all(np.abs(theta) < np.pi)


def test_ornn_authors_gradient_is_strictly_upper_and_matches_fd(getkey):
    params = _uniform_params(AUTHORS, getkey())
    key = getkey()
    _, grads = _authors_w_and_grad(params, key)
    x0, us, ys = _regression_problem(key, jnp.float64)
    loss = lambda p: _loss_and_grad(p, x0, us, ys, model=AUTHORS)[0][0]

    g = np.asarray(grads.recurrent_generator)
    upper = np.triu(np.ones((6, 6), bool), 1)
    np.testing.assert_array_equal(g[~upper], 0.0)
    assert np.all(g[upper] != 0)
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    for i, j in ((0, 3), (4, 5)):
        one_hot = zeros._replace(
            recurrent_generator=zeros.recurrent_generator.at[i, j].set(1.0)
        )
        fd = fd_directional(loss, params, one_hot)
        np.testing.assert_allclose(g[i, j], fd, rtol=FD_RTOL, atol=1e-10)


def test_ornn_rnn_dyn_moves_the_skew_matrix_twice_as_far_as_the_authors(getkey):
    # At an A with zero diagonal and lower triangle both variants have the same
    # S, and, with b_ih = 0, the same map: the gradients agree on the upper
    # triangle, and rnn_dyn's lower triangle is minus its transpose.
    params = _uniform_params(AUTHORS, getkey())
    a0 = jnp.triu(params.recurrent_generator, 1)
    params = params._replace(recurrent_generator=a0)
    ours = params._replace(bias_ih=jnp.zeros(6))
    x0, us, ys = _regression_problem(getkey(), jnp.float64)

    def grad_a(model, p):
        return _loss_and_grad(p, x0, us, ys, model=model)[1].recurrent_generator

    g_ours, g_theirs = (
        np.asarray(grad_a(ORNN, ours)),
        np.asarray(grad_a(AUTHORS, params)),
    )
    np.testing.assert_allclose(np.triu(g_ours, 1), g_theirs, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(np.tril(g_ours, -1), -np.triu(g_ours, 1).T)
    skew_ours = lambda a: np.asarray(a - a.T)
    skew_theirs = lambda a: _strict_upper_skew(np.asarray(a))

    # Adam and SGD steps on A alone: rnn_dyn at lr moves S as the authors do at
    # 2 lr, step after step (both runs start from the same S).
    for make in (optax.sgd, optax.adam):
        runs = []
        for model, p, lr in ((ORNN, ours, 0.05), (AUTHORS, params, 0.1)):
            opt = make(lr)
            a, state = p.recurrent_generator, opt.init(p.recurrent_generator)
            for _ in range(5):
                g = grad_a(model, p._replace(recurrent_generator=a))
                with jax.numpy_dtype_promotion("standard"):
                    update, state = opt.update(g, state)
                a = a + update
            runs.append(a)
        s_ours, s_theirs = skew_ours(runs[0]), skew_theirs(runs[1])
        assert np.max(np.abs(s_theirs - skew_theirs(a0))) > 0.2
        np.testing.assert_allclose(s_ours, s_theirs, rtol=0, atol=1e-13)


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((2, 3), {"init": "haar"}, "init"),
        ((2, 0), {}, "hidden_size"),
        ((-1, 3), {}, "input_size"),
        ((2, 3), {"readout": 0}, "readout"),
        ((2, 3), {"variant": "lezcano"}, "variant"),
        ((2, 3), {"variant": "authors", "bias": True}, "bias"),
    ],
)
def test_ornn_factory_rejects_bad_arguments(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        rd.models.ornn(*args, **kwargs)


def test_ornn_variant_defaults_and_the_cell_factory():
    assert ORNN.variant == "rnn_dyn" and ORNN.bias
    assert AUTHORS.variant == "authors" and not AUTHORS.bias
    assert rd.models.ornn(
        2, 3, bias=False, variant="authors"
    ) == rd.models.OrthogonalRNN(2, 3, bias=False, variant="authors")
    # Positional construction keeps its order; `prepare` keeps the variant.
    assert rd.models.OrthogonalRNN(2, 3, None, "cayley", False).variant == "rnn_dyn"
    assert dataclasses.replace(AUTHORS, prepared=True).variant == "authors"
    with pytest.raises(ValueError, match="variant"):
        rd.models.OrthogonalRNN(2, 3, variant="torch")
    with pytest.raises(ValueError, match="bias"):
        rd.models.OrthogonalRNN(2, 3, variant="authors")
    cell = rd.examples.cell("ornn", 2, 6, readout=2, ornn_variant="authors")
    assert cell == AUTHORS
    assert rd.examples.cell("ornn", 2, 6, readout=2) == ORNN
    lstm = rd.examples.cell("lstm", 2, 6, readout=2, ornn_variant="authors")
    assert lstm == rd.models.lstm(2, 6, readout=2)
    with pytest.raises(ValueError, match="variant"):
        rd.examples.cell("ornn", 2, 6, readout=None, ornn_variant="torch")


# --------------------------------------------------------------------------- #
# Stable LSTM
# --------------------------------------------------------------------------- #


def _sums(w, norm):
    """Column sums (norm="l1") or row sums ("linf") of |w|, in NumPy."""
    return np.abs(np.asarray(w, np.float64)).sum(axis=0 if norm == "l1" else 1)


def _constrained_blocks(params, hidden):
    """[(block, bound)]: the four recurrent blocks, then the forget input block."""
    w_hh, w_ih = np.asarray(params.weight_hh), np.asarray(params.weight_ih)
    hh = [
        (w_hh[k * hidden : (k + 1) * hidden], b) for k, b in enumerate(RECURRENT_BOUNDS)
    ]
    return [*hh, (w_ih[hidden : 2 * hidden], FORGET_INPUT_BOUND)]


SLSTM = rd.models.slstm(3, 6, bias=False)


@ft.partial(jax.jit, static_argnums=(0, 2, 3))
def _stabilize(model, params, mode, norm):
    return model.stabilize(params, mode=mode, norm=norm)


@ft.partial(jax.jit, static_argnums=0)
def _state_jacobians(model, params, xs, us):
    """Dense state Jacobians ∂f/∂x at each (xs[k], us[k]), shape `(k, n, n)`."""
    return jax.vmap(jax.jacfwd(model.f, argnums=1), in_axes=(None, 0, 0))(
        params, xs, us
    )


def _linf_norms(jac):
    """Induced ℓ∞ norms (largest absolute row sums) of a stack of matrices."""
    return np.abs(np.asarray(jac)).sum(axis=-1).max(axis=-1)


def test_slstm_f_and_g_equal_lstm(getkey):
    slstm, lstm = rd.models.slstm(3, 4, readout=2), rd.models.lstm(3, 4, readout=2)
    params = _uniform_params(slstm, getkey())
    x = jnp.asarray(np_rng(getkey()).standard_normal(8))
    u = jnp.asarray(np_rng(getkey()).standard_normal(3))
    fg = lambda model: jax.jit(lambda p: (model.f(p, x, u), model.g(p, x, u)))(params)
    for a, b in zip(fg(slstm), fg(lstm), strict=True):
        np.testing.assert_array_equal(a, b)
    assert slstm.state_size == 8 and slstm.output_size == 2
    model, loaded = rd.models.StableLSTM.from_state_dict(
        slstm.state_dict(params, readout="dec"), readout="dec"
    )
    assert model == slstm
    np.testing.assert_array_equal(loaded.weight_hh, params.weight_hh)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("norm", ["l1", "linf"])
@pytest.mark.parametrize("mode", ["clip", "authors"])
def test_slstm_stabilize_bounds_the_column_sums(mode, norm, dtype, getkey):
    hidden, m = 6, 3
    model = rd.models.slstm(m, hidden, readout=2)
    params = _uniform_params(model, getkey())
    # Shrink every other column (or row) of each block under its bound, so
    # clip mode meets both kinds.
    keep = np.ones(hidden), np.ones(m)
    for v in keep:
        v[::2] = 1e-3
    scale_hh = keep[0][None, :] if norm == "l1" else np.tile(keep[0], 4)[:, None]
    scale_ih = keep[1][None, :] if norm == "l1" else np.tile(keep[0], 4)[:, None]
    params = params._replace(
        weight_hh=params.weight_hh * scale_hh, weight_ih=params.weight_ih * scale_ih
    )
    params = jax.tree_util.tree_map(lambda a: a.astype(dtype), params)

    out = _stabilize(model, params, mode, norm)

    assert all(a.dtype == dtype for a in jax.tree_util.tree_leaves(out))
    for (before, bound), (after, _) in zip(
        _constrained_blocks(params, hidden),
        _constrained_blocks(out, hidden),
        strict=True,
    ):
        sums_before, sums_after = _sums(before, norm), _sums(after, norm)
        within = sums_before <= bound
        assert within.any() and not within.all()
        if mode == "clip":
            assert np.all(sums_after <= bound * (1 + SUM_RTOL[dtype]))
            unchanged = after[:, within] if norm == "l1" else after[within]
            original = before[:, within] if norm == "l1" else before[within]
            np.testing.assert_array_equal(unchanged, original)
        else:
            np.testing.assert_allclose(sums_after, bound, rtol=SUM_RTOL[dtype])
    # The other input blocks, the biases and the readout are untouched.
    h = hidden
    np.testing.assert_array_equal(out.weight_ih[:h], params.weight_ih[:h])
    np.testing.assert_array_equal(out.weight_ih[2 * h :], params.weight_ih[2 * h :])
    for name in ("bias_ih", "bias_hh", "readout_weight", "readout_bias"):
        np.testing.assert_array_equal(getattr(out, name), getattr(params, name))


def test_slstm_authors_stabilize_rescales_columns_to_the_papers_constants(getkey):
    # The authors' rnn_wrap.py, in closed form: each column of the (i, f, g, o)
    # blocks of weight_hh, and of the forget block (rows H:2H) of weight_ih, is
    # divided by its ℓ1 norm and multiplied by the constant; nothing else moves.
    hidden, m = 6, 3
    model = rd.models.slstm(m, hidden, readout=2)
    params = _uniform_params(model, getkey())
    out = _stabilize(model, params, "authors", "l1")
    h = hidden
    w_hh, w_ih = np.asarray(params.weight_hh), np.asarray(params.weight_ih)
    pairs = [
        (w_hh[k * h : (k + 1) * h], out.weight_hh[k * h : (k + 1) * h], c)
        for k, c in enumerate((0.395, 0.155, 0.099, 0.395))
    ]
    pairs.append((w_ih[h : 2 * h], out.weight_ih[h : 2 * h], 0.25))
    for before, after, c in pairs:
        after = np.asarray(after)
        np.testing.assert_allclose(np.abs(after).sum(axis=0), c, rtol=0, atol=1e-12)
        expected = before * (c / np.abs(before).sum(axis=0))
        np.testing.assert_allclose(after, expected, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(out.weight_ih[:h], w_ih[:h])
    np.testing.assert_array_equal(out.weight_ih[2 * h :], w_ih[2 * h :])
    for name in ("bias_ih", "bias_hh", "readout_weight", "readout_bias"):
        np.testing.assert_array_equal(getattr(out, name), getattr(params, name))


@pytest.mark.parametrize("norm", ["l1", "linf"])
@pytest.mark.parametrize("mode", ["clip", "authors"])
def test_slstm_stabilize_is_idempotent(mode, norm, getkey):
    params = _uniform_params(SLSTM, getkey(), scale=2.0)
    once = _stabilize(SLSTM, params, mode, norm)
    twice = _stabilize(SLSTM, once, mode, norm)
    for a, b in zip(
        jax.tree_util.tree_leaves(once), jax.tree_util.tree_leaves(twice), strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=0)


def test_slstm_stabilize_leaves_zero_columns_zero_and_rejects_bad_names(getkey):
    params = _uniform_params(SLSTM, getkey())
    w_hh = np.array(params.weight_hh)
    w_hh[:, 1] = 0.0
    params = params._replace(weight_hh=jnp.asarray(w_hh))
    out = _stabilize(SLSTM, params, "authors", "l1")
    assert np.all(np.isfinite(out.weight_hh))
    np.testing.assert_array_equal(out.weight_hh[:, 1], 0.0)
    with pytest.raises(ValueError, match="mode"):
        SLSTM.stabilize(params, mode="project")
    with pytest.raises(ValueError, match="norm"):
        SLSTM.stabilize(params, norm="l2")


# The ℓ∞ argument (module docstring of rnn_dyn.models.slstm): with forget-gate
# bound f∞ = σ(‖W_f‖∞ + ‖U_f‖∞) (‖h‖∞ ≤ 1, ‖u‖∞ ≤ 1, no bias) and
# c∞ = 1/(1 - f∞), the state Jacobian A = ∂[h', c']/∂[h, c] satisfies
# ‖A‖∞ ≤ f∞ + ‖W_o‖∞/4 + ‖W_i‖∞/4 + ‖W_g‖∞ + c∞‖W_f‖∞/4 on the invariant box
# ‖h‖∞ ≤ 1, ‖c‖∞ ≤ c∞; at the authors' bounds this is about 0.9932.


def _lambda(w_i, w_f, w_g, w_o, u_f, norm):
    """The contraction bound λ from the block norms (ℓ∞: row sums; ℓ1: columns)."""
    nrm = lambda w: np.max(_sums(w, norm))
    f_inf = sigmoid(nrm(w_f) + nrm(u_f))
    c_inf = 1.0 / (1.0 - f_inf)
    lam = f_inf + nrm(w_o) / 4 + nrm(w_i) / 4 + nrm(w_g) + c_inf * nrm(w_f) / 4
    return lam, f_inf, c_inf


BOUND_LAMBDA, BOUND_F_INF, BOUND_C_INF = _lambda(
    *(np.array([[b]]) for b in (*RECURRENT_BOUNDS, FORGET_INPUT_BOUND)), "linf"
)


def _box_states(key, hidden, m, count, c_inf):
    """States in the invariant box ‖h‖∞ ≤ 1, ‖c‖∞ ≤ c∞, and inputs ‖u‖∞ ≤ 1."""
    rng = np_rng(key)
    h = rng.uniform(-1, 1, (count, hidden))
    c = rng.uniform(-c_inf, c_inf, (count, hidden))
    us = rng.uniform(-1, 1, (count, m))
    return jnp.asarray(np.concatenate([h, c], axis=1)), jnp.asarray(us)


def test_slstm_bounds_are_miller_hardt_conditions():
    # 1 - f∞ ≈ 0.40011: ‖W_i‖, ‖W_o‖ < 1 - f∞; ‖W_g‖ < (1 - f∞)/4; ‖W_f‖ < (1 - f∞)².
    w_i, w_f, w_g, w_o = RECURRENT_BOUNDS
    assert BOUND_F_INF == pytest.approx(sigmoid(0.405))
    assert max(w_i, w_o) < 1 - BOUND_F_INF
    assert w_g < (1 - BOUND_F_INF) / 4
    assert w_f < (1 - BOUND_F_INF) ** 2
    assert BOUND_LAMBDA == pytest.approx(0.99324, abs=1e-5)


@pytest.mark.parametrize("mode", ["clip", "authors"])
def test_slstm_row_projection_makes_the_state_map_an_linf_contraction(mode, getkey):
    hidden, m = SLSTM.hidden_size, SLSTM.input_size
    xs, us = _box_states(getkey(), hidden, m, 300, BOUND_C_INF)
    for scale in (0.5, 3.0):
        raw = _uniform_params(SLSTM, getkey(), scale=scale)
        params = _stabilize(SLSTM, raw, mode, "linf")
        blocks = [b for b, _ in _constrained_blocks(params, hidden)]
        lam, _, _ = _lambda(*blocks, "linf")
        assert lam <= BOUND_LAMBDA * (1 + 1e-12) < 1
        assert np.all(_linf_norms(_state_jacobians(SLSTM, params, xs, us)) <= lam)


def _concentrated_params(model):
    """Every recurrent block has all its weight on row 0 (unit 0), zero inputs."""
    hidden = model.hidden_size
    w_hh = np.zeros((4 * hidden, hidden))
    w_hh[::hidden] = 1.0
    return rd.models.CellParams(
        weight_hh=jnp.asarray(w_hh),
        weight_ih=jnp.zeros((4 * hidden, model.input_size)),
        bias_ih=None,
        bias_hh=None,
    )


@pytest.mark.parametrize("mode", ["clip", "authors"])
def test_slstm_column_projection_does_not_bound_the_linf_jacobian(mode):
    # The authors' column projection bounds ‖W‖₁, not ‖W‖∞: with all weight on
    # one row, row 0 of W_g sums to H·0.099 and the LSTM expands in ℓ∞ at the
    # ordinary state h = 0, c = e_0 (all gates at 1/2).
    hidden = 16
    model = rd.models.slstm(2, hidden, bias=False)
    params = _concentrated_params(model)
    x = np.zeros((1, 2 * hidden))
    x[0, hidden] = 1.0
    x, u = jnp.asarray(x), jnp.zeros((1, 2))

    columns = _stabilize(model, params, mode, "l1")
    for block, bound in _constrained_blocks(columns, hidden)[:4]:
        np.testing.assert_allclose(_sums(block, "l1"), bound, rtol=1e-14)
    # Row c'_0: f + c σ'(0) ‖W_f row‖ + i tanh'(0) ‖W_g row‖ (the W_i term has g = 0),
    # i.e. 1/2 + H (0.155/4 + 0.099/2).
    expected = 0.5 + hidden * (0.155 / 4 + 0.099 / 2)
    norm = _linf_norms(_state_jacobians(model, columns, x, u))[0]
    assert norm == pytest.approx(expected, rel=1e-12)
    assert expected > 1.9

    rows = _stabilize(model, params, mode, "linf")
    assert _linf_norms(_state_jacobians(model, rows, x, u))[0] < BOUND_LAMBDA


def test_slstm_column_projection_contracts_in_l1_where_forget_gates_are_bounded(
    getkey,
):
    # The transposed statement: in the norm max(‖h‖₁, ‖c‖₁) the same estimate
    # holds with ℓ1 block norms and the forget gates and |c| *at the state*:
    # N(A) := max(‖A_hh‖₁ + ‖A_hc‖₁, ‖A_ch‖₁ + ‖A_cc‖₁)
    #      ≤ max f + ‖W_o‖₁/4 + ‖W_i‖₁/4 + ‖W_g‖₁ + max|c| ‖W_f‖₁/4,
    # which is < 1 where max f ≤ f∞ and |c| ≤ c∞ (not enforced by the projection).
    hidden, m = SLSTM.hidden_size, SLSTM.input_size
    xs, us = _box_states(getkey(), hidden, m, 300, BOUND_C_INF)
    params = _stabilize(
        SLSTM, _uniform_params(SLSTM, getkey(), scale=3.0), "clip", "l1"
    )
    w_i, w_f, w_g, w_o, _ = (b for b, _ in _constrained_blocks(params, hidden))
    jac = np.asarray(_state_jacobians(SLSTM, params, xs, us))
    n1 = lambda a: np.abs(a).sum(axis=-2).max(axis=-1)
    h = hidden
    block_norm = np.maximum(
        n1(jac[:, :h, :h]) + n1(jac[:, :h, h:]), n1(jac[:, h:, :h]) + n1(jac[:, h:, h:])
    )
    pre = np.asarray(us) @ np.asarray(params.weight_ih).T + np.asarray(xs[:, :h]) @ (
        np.asarray(params.weight_hh).T
    )
    forget = sigmoid(pre[:, h : 2 * h]).max(axis=1)
    c_max = np.abs(np.asarray(xs[:, h:])).max(axis=1)
    nrm = lambda w: np.max(_sums(w, "l1"))
    bound = forget + nrm(w_o) / 4 + nrm(w_i) / 4 + nrm(w_g) + c_max * nrm(w_f) / 4
    assert np.all(block_norm <= bound)
    gated = forget <= BOUND_F_INF
    assert gated.sum() > 30
    assert np.all(block_norm[gated] < 1)


def test_slstm_default_projection_contracts_at_random_states(getkey):
    # Empirical, not guaranteed (see the test above with concentrated rows):
    # default-initialised weights (biases included), projected the authors'
    # way, then ‖A‖∞ < 1 at random states of the box and random inputs.
    hidden, m = 6, 3
    model = rd.models.slstm(m, hidden)
    xs, us = _box_states(getkey(), hidden, m, 300, BOUND_C_INF)
    for mode in ("clip", "authors"):
        # Drawn as `init` does, U(-1/√H, 1/√H), without compiling `init`.
        raw = _uniform_params(model, getkey(), scale=1 / np.sqrt(hidden))
        params = _stabilize(model, raw, mode, "l1")
        assert np.all(_linf_norms(_state_jacobians(model, params, xs, us)) < 1)
