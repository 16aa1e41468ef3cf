import helpers
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import rotation

import rnn_dyn as rd
from rnn_dyn import cycles, fixed_points

# One instance per model class (the model is a static jit argument): tests vary
# params and reuse one compiled solver per (model, period, number of starts).
LINEAR = rd.models.linear(2, 1, 1)
LOGISTIC = rd.models.logistic()
NO_INPUT = jnp.zeros(0)


def linear_params(a):
    """`LINEAR`'s params with state matrix ``a``: one input, one output."""
    return helpers.linear_params(a, b=jnp.array([[1.0], [-0.5]]), c=jnp.ones((1, 2)))


def logistic_params(r, dtype=jnp.float64):
    return rd.models.LogisticParams(r=jnp.asarray(r, dtype))


def logistic_starts(dtype=jnp.float64):
    return jnp.linspace(-0.1, 1.1, 32, dtype=dtype)[:, None]


def iterate(model, params, u, x, steps):
    for _ in range(steps):
        x = model.f(params, x, u)
    return x


V = jnp.array([[1.0, 0.3], [-0.4, 1.0]])


@pytest.mark.parametrize(
    "a, label",
    [
        (0.9 * rotation(0.5), "stable"),  # complex pair, |λ| = 0.9
        (V @ jnp.diag(jnp.array([1.5, -2.0])) @ jnp.linalg.inv(V), "unstable"),
        (V @ jnp.diag(jnp.array([0.5, 3.0])) @ jnp.linalg.inv(V), "saddle"),
    ],
    ids=["stable", "unstable", "saddle"],
)
def test_fixed_points_of_affine_map_match_dense_solve(a, label, getkey):
    params = linear_params(a)
    u = jnp.array([0.7])
    x_inits = 3 * jax.random.normal(getkey(), (8, 2))
    res = fixed_points(LINEAR, params, u, x_inits)

    expected = jnp.linalg.solve(jnp.eye(2) - a, params.b @ u)
    assert res.points.shape == (1, 1, 2)
    np.testing.assert_allclose(res.points[0, 0], expected, rtol=1e-12)
    np.testing.assert_allclose(
        np.sort_complex(res.eigenvalues[0]),
        np.sort_complex(np.linalg.eigvals(np.asarray(a))),
        rtol=1e-12,
    )
    np.testing.assert_allclose(res.spectral_radius[0], np.max(np.abs(res.eigenvalues)))
    assert res.stability == (label,)
    # Dedup: every start found the same point, reported once.
    assert res.counts.tolist() == [8]
    assert (res.num_converged, res.num_diverged, res.num_stalled) == (8, 0, 0)
    assert res.residual[0] < 1e-12


def test_fixed_points_of_rotation_are_non_hyperbolic_cycles(getkey):
    params = linear_params(rotation(2 * np.pi / 7))
    u = jnp.array([0.7])
    center = jnp.linalg.solve(jnp.eye(2) - params.a, params.b @ u)
    starts = center[None] + jax.random.normal(getkey(), (7, 2))
    # The 8th start lies on the orbit of the first: the same cycle.
    shifted = iterate(LINEAR, params, u, starts[0], 3)
    x_inits = jnp.concatenate([starts, shifted[None]])

    res = fixed_points(LINEAR, params, u, x_inits, period=7)
    assert res.points.shape == (7, 7, 2)
    assert sorted(res.counts.tolist()) == [1] * 6 + [2]
    assert res.stability == ("non-hyperbolic",) * 7
    np.testing.assert_allclose(res.eigenvalues, 1.0, atol=1e-12)
    # Each cycle is in orbit order and on a circle around the center...
    for cycle in res.points:
        np.testing.assert_allclose(
            jax.vmap(lambda x: LINEAR.f(params, x, u))(cycle),
            jnp.roll(cycle, -1, axis=0),
            atol=1e-12,
        )
    radii = jnp.linalg.norm(res.points - center[None, None], axis=-1)
    np.testing.assert_allclose(radii, radii[:, :1] * jnp.ones((1, 7)), rtol=1e-12)
    # ... through one of the starts (the rotation leaves every point in place).
    np.testing.assert_allclose(
        jnp.sort(radii[:, 0]),
        jnp.sort(jnp.linalg.norm(starts - center[None], axis=-1)),
    )
    # Period 1: the center, rotating its neighbours by 2π/7.
    res = fixed_points(LINEAR, params, u, x_inits)
    np.testing.assert_allclose(res.points[0, 0], center, rtol=1e-12)
    np.testing.assert_allclose(
        np.sort_complex(res.eigenvalues[0]),
        np.sort_complex(np.exp(2j * np.pi / 7 * np.array([1, -1]))),
        rtol=1e-12,
    )
    assert res.stability == ("non-hyperbolic",)


def test_fixed_points_stall_on_singular_jacobian(getkey):
    # A = I: F(x) = B u is constant and DF = 0; there is no fixed point.
    params = linear_params(jnp.eye(2))
    x_inits = jax.random.normal(getkey(), (8, 2))
    res = fixed_points(LINEAR, params, jnp.array([0.7]), x_inits)
    assert res.points.shape == (0, 1, 2)
    assert (res.num_converged, res.num_diverged, res.num_stalled) == (0, 0, 8)


def test_fixed_points_of_logistic_map_match_closed_form():
    r = 3.2
    params = logistic_params(r)
    res = fixed_points(LOGISTIC, params, NO_INPUT, logistic_starts())
    np.testing.assert_allclose(res.points[:, 0, 0], [0.0, 1 - 1 / r], atol=1e-14)
    np.testing.assert_allclose(res.eigenvalues[:, 0], [r, 2 - r], rtol=1e-12)
    assert res.stability == ("unstable", "unstable")

    res = fixed_points(LOGISTIC, params, NO_INPUT, logistic_starts(), period=2)
    root = np.sqrt((r - 3) * (r + 1))
    expected = [(r + 1 - root) / (2 * r), (r + 1 + root) / (2 * r)]
    np.testing.assert_allclose(res.points[:, :, 0], [expected], rtol=1e-12)
    # f'(x₊) f'(x₋) = r²(1 - 2x₊)(1 - 2x₋) = -r² + 2r + 4
    np.testing.assert_allclose(res.eigenvalues[0], [-(r**2) + 2 * r + 4], rtol=1e-10)
    assert res.stability == ("stable",)
    assert res.num_lower_period > 0
    assert res.num_lower_period + int(res.counts.sum()) == res.num_converged == 32


def test_fixed_points_of_logistic_map_find_both_three_cycles():
    r = 3.835  # just past the saddle-node at 1 + √8: a stable and an unstable 3-cycle
    params = logistic_params(r)
    res = fixed_points(LOGISTIC, params, NO_INPUT, logistic_starts(), period=3)
    assert res.points.shape == (2, 3, 1)

    # Reference 1: the roots of the degree-8 polynomial f³(x) - x other than
    # the fixed points 0 and 1 - 1/r.
    f = np.polynomial.Polynomial([0.0, r, -r])
    roots = (f(f(f)) - np.polynomial.Polynomial([0.0, 1.0])).roots()
    roots = np.sort(roots.real[np.abs(roots.imag) < 1e-9])
    fixed = (np.abs(roots) < 1e-9) | (np.abs(roots - (1 - 1 / r)) < 1e-9)
    np.testing.assert_allclose(
        np.sort(res.points.ravel()), roots[~fixed], rtol=1e-9, atol=1e-12
    )
    # Reference 2: the multiplier is the product of f'(x) = r (1 - 2x) on the cycle.
    multipliers = jnp.prod(r * (1 - 2 * res.points[:, :, 0]), axis=1)
    np.testing.assert_allclose(res.eigenvalues[:, 0], multipliers, rtol=1e-10)
    assert sorted(res.stability) == ["stable", "unstable"]
    # Reference 3: the stable cycle is where a long simulation ends up.
    stable = res.points[res.stability.index("stable"), :, 0]
    xs, _ = rd.simulate(LOGISTIC, params, jnp.array([0.3]), jnp.zeros((2000, 0)))
    np.testing.assert_allclose(jnp.sort(xs[-3:, 0]), jnp.sort(stable), rtol=1e-10)


def test_cycles_report_each_minimal_period_once():
    params = logistic_params(3.835)
    found = cycles(LOGISTIC, params, NO_INPUT, logistic_starts(), max_period=3)
    assert [c.period for c in found] == [1, 2, 3]
    assert [c.points.shape[0] for c in found] == [2, 1, 2]
    assert found[1].stability == ("unstable",)


def test_fixed_points_of_henon_map_are_saddles_of_closed_form(getkey):
    a, b = 1.4, 0.3
    model = rd.models.henon(a, b)
    params = model.init(getkey())
    x_inits = jax.random.uniform(getkey(), (16, 2), minval=-2.0, maxval=2.0)
    res = fixed_points(model, params, NO_INPUT, x_inits)

    root = np.sqrt((1 - b) ** 2 + 4 * a)
    xs = np.array([-(1 - b) - root, -(1 - b) + root]) / (2 * a)
    np.testing.assert_allclose(res.points[:, 0], np.stack([xs, b * xs], 1), rtol=1e-12)
    assert res.stability == ("saddle", "saddle")
    for x, eigs in zip(xs, res.eigenvalues, strict=True):
        jac = np.array([[-2 * a * x, 1.0], [b, 0.0]])
        np.testing.assert_allclose(
            np.sort_complex(eigs), np.sort_complex(np.linalg.eigvals(jac)), rtol=1e-12
        )
        np.testing.assert_allclose(np.prod(eigs), -b, rtol=1e-12)


def test_fixed_point_of_contracting_rnn_is_limit_of_simulation(getkey):
    model = rd.models.rnn(2, 4)
    params = model.init(getkey())
    params = params._replace(weight_hh=0.3 * params.weight_hh)
    u = jax.random.normal(getkey(), (2,))
    res = fixed_points(model, params, u, jax.random.normal(getkey(), (16, 4)))
    assert res.points.shape == (1, 1, 4)
    assert res.stability == ("stable",)

    traj = rd.simulate(model, params, jnp.zeros(4), jnp.tile(u, (500, 1)))
    np.testing.assert_allclose(res.points[0, 0], traj.states[-1], rtol=1e-12)
    # At h = tanh(W_hh h + ...), ∂f/∂h = diag(1 - h²) W_hh.
    h = np.asarray(res.points[0, 0])
    jac = (1 - h**2)[:, None] * np.asarray(params.weight_hh)
    np.testing.assert_allclose(
        np.sort_complex(res.eigenvalues[0]),
        np.sort_complex(np.linalg.eigvals(jac)),
        rtol=1e-10,
    )


def test_integer_starts_are_states_in_the_params_dtype():
    model = rd.models.logistic(2.5)  # fixed point 1 - 1/r = 0.6
    params = model.init(jax.random.key(0))
    starts = np.array([[0], [1]])  # ints: x = 1 maps to 0, then stays
    found = fixed_points(model, params, jnp.zeros(0), starts)
    ref = fixed_points(model, params, jnp.zeros(0), starts.astype(float))
    assert found.points.dtype == params.r.dtype
    np.testing.assert_array_equal(found.points, ref.points)


def test_fixed_points_count_diverged_starts():
    starts = logistic_starts()
    x_inits = starts.at[0, 0].set(jnp.nan).at[1, 0].set(1e200)  # f(1e200) = -inf
    res = fixed_points(LOGISTIC, logistic_params(3.2), NO_INPUT, x_inits)
    assert (res.num_diverged, res.num_stalled, res.num_converged) == (2, 0, 30)
    assert res.points.shape == (2, 1, 1)
    assert np.all(np.isfinite(res.points))


def test_fixed_points_run_in_float32():
    r = 3.2
    params = logistic_params(r, jnp.float32)
    starts = logistic_starts(jnp.float32)
    res = fixed_points(LOGISTIC, params, jnp.zeros(0, jnp.float32), starts, period=2)
    assert res.points.dtype == jnp.float32
    assert res.eigenvalues.dtype == jnp.complex64
    assert res.spectral_radius.dtype == jnp.float32
    root = np.sqrt((r - 3) * (r + 1))
    expected = [(r + 1 - root) / (2 * r), (r + 1 + root) / (2 * r)]
    np.testing.assert_allclose(res.points[:, :, 0], [expected], rtol=1e-5)
    assert res.stability == ("stable",)


def test_fixed_points_reject_bad_arguments(no_typecheck):
    params = logistic_params(3.2)
    good = logistic_starts()
    with pytest.raises(ValueError, match=r"x_inits must have shape \(b, 1\)"):
        fixed_points(LOGISTIC, params, NO_INPUT, good[:, 0])
    with pytest.raises(ValueError, match=r"x_inits must have shape \(b, 1\)"):
        fixed_points(LOGISTIC, params, NO_INPUT, jnp.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"u must have shape \(0,\)"):
        fixed_points(LOGISTIC, params, jnp.zeros(1), good)
    with pytest.raises(ValueError, match="period must be an integer >= 1"):
        fixed_points(LOGISTIC, params, NO_INPUT, good, period=0)
    with pytest.raises(ValueError, match="tol must be positive"):
        fixed_points(LOGISTIC, params, NO_INPUT, good, tol=-1.0)
    with pytest.raises(ValueError, match="max_period must be an integer >= 1"):
        cycles(LOGISTIC, params, NO_INPUT, good, max_period=0)
    with pytest.raises(ValueError, match="params"):
        fixed_points(LOGISTIC, linear_params(jnp.eye(2)), NO_INPUT, good)


def test_fixed_point_starts_are_a_cloud_and_points_of_the_trajectory(getkey):
    model = rd.models.linear(2, 1, 1)
    params = model.init(getkey())._replace(a=0.9 * rotation(0.3))
    x0, u, key = jnp.array([1.0, -2.0]), jnp.array([0.5]), getkey()
    starts = rd.fixed_point_starts(model, params, x0, u, 7, std=0.1, key=key, steps=50)
    noise = jax.random.normal(key, (4, 2), jnp.float64)
    np.testing.assert_allclose(starts[:4], x0[None] + 0.1 * noise, rtol=1e-15)
    states = rd.simulate(model, params, x0, jnp.broadcast_to(u, (50, 1))).states
    np.testing.assert_allclose(starts[4:], states[jnp.array([0, 24, 49])], rtol=1e-15)
