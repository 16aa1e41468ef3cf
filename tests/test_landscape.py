import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import chaotic, random_problem

import rnn_dyn as rd
import rnn_dyn._validate as validate
from rnn_dyn import landscape as ls
from rnn_dyn._io import load_params, save_params


def _zeros(tree):
    return jax.tree_util.tree_map(jnp.zeros_like, tree)


def test_grid_on_quadratic_cost_equals_closed_form(getkey):
    # x0 = 0 and a = b = c = 0 keep x_t = 0, so y_t = d u_t and V is quadratic in d.
    model = rd.models.linear(2, 3, 2)
    us = jax.random.normal(getkey(), (9, 3))
    ys = jax.random.normal(getkey(), (9, 2))
    params = [_zeros(model.init(getkey())) for _ in range(3)]
    ds = [jax.random.normal(getkey(), (2, 3)) for _ in range(3)]
    theta_o, theta_a, theta_b = (
        p._replace(d=d) for p, d in zip(params, ds, strict=True)
    )
    s1, s2 = np.linspace(-1, 2, 7), np.linspace(-0.5, 0.5, 5)
    grid = ls.grid_2d(model, theta_o, theta_a, theta_b, jnp.zeros(2), us, ys, s1, s2)
    d_o, d_a, d_b = (np.asarray(d) for d in ds)
    u, y = np.asarray(us), np.asarray(ys)
    for i, a in enumerate(s1):
        for j, b in enumerate(s2):
            d = d_o + a * (d_a - d_o) + b * (d_b - d_o)
            expected = np.mean(np.sum((u @ d.T - y) ** 2, axis=1))
            np.testing.assert_allclose(grid.loss[i, j], expected, rtol=1e-12)


def test_grid_centre_equals_cost_and_line_agrees_with_plane(getkey):
    model = rd.models.gru(2, 3, readout=1)
    theta, x0, us, ys = random_problem(model, getkey(), 12)
    d1 = ls.random_direction(getkey(), theta, distribution="gaussian")
    d2 = ls.random_direction(getkey(), theta, distribution="gaussian")
    plus = lambda d: jax.tree_util.tree_map(jnp.add, theta, d)
    s = np.linspace(-1, 1, 5)
    plane = ls.grid_2d(model, theta, plus(d1), plus(d2), x0, us, ys, s, s, burn_in=2)
    centre = rd.cost(model, theta, x0, us, ys, burn_in=2)
    np.testing.assert_allclose(plane.loss[2, 2], centre, rtol=1e-13)
    # The line from θ (s=0) to θ + d1 (s=1) is the plane's s2 = 0 row.
    line = ls.line(model, plus(d1), theta, x0, us, ys, s, burn_in=2)
    np.testing.assert_allclose(line.loss, plane.loss[:, 2], rtol=1e-13)
    for k, sk in enumerate(s):
        point = ls.point(line.subspace, jnp.array([sk]))
        np.testing.assert_allclose(
            line.loss[k], rd.cost(model, point, x0, us, ys, burn_in=2), rtol=1e-12
        )


def test_chaotic_lstm_loss_is_exactly_zero_at_theta_true():
    model, theta, x0 = chaotic()
    us = jnp.zeros((200, 0))
    # Targets from the grid's own evaluator: rd.simulate is another compiled
    # program, whose last bits may differ on some CPUs, and over 200 chaotic
    # steps a last bit grows (e^{0.17 t}), so V(θ_true) need not be 0 there.
    ys = ls.reference_outputs(model, theta, x0, us)
    # The same trajectory as rd.simulate's, while rounding cannot yet matter.
    sim = rd.simulate(model, theta, x0, us).outputs
    np.testing.assert_allclose(ys[:50], sim[:50], rtol=1e-10, atol=1e-12)
    s = ls.coordinates(0.5, 2.0, 101, exact=[1.0])
    line = ls.line(
        model, theta, _zeros(theta), x0, us, ys, s, burn_in=100, steady_steps=100
    )
    assert line.loss[s == 1.0][0] == 0.0
    assert np.all(line.loss[s != 1.0] > 0)
    # Steady states at s = 1 are the target trajectory after burn-in.
    np.testing.assert_array_equal(line.steady[s == 1.0][0], ys[100:])


def test_overflowing_points_are_kept_as_nonfinite():
    model = rd.models.logistic(4.0)
    theta = model.init(jax.random.key(0))
    x0 = model.initial_state(theta)
    us = jnp.zeros((100, 0))
    ys = rd.simulate(model, theta, x0, us).outputs
    s = np.linspace(0.5, 2.0, 31)  # r = 4 s: beyond r = 4 orbits escape to -inf
    line = ls.line(model, theta, _zeros(theta), x0, us, ys, s, steady_steps=5)
    escaped = s > 1.0
    assert not np.any(np.isfinite(line.loss[escaped]))
    assert np.all(np.isfinite(line.loss[~escaped]))


MINOR_CASES = {
    "lstm": (rd.models.lstm(2, 3, readout=2), "mse", 4, 3),
    "gru": (rd.models.gru(2, 3), "bce_with_logits", 0, 12),  # every output kept
    "rnn-relu": (rd.models.rnn(2, 3, readout=3, nonlinearity="relu"), "mse", 2, 0),
    "slstm": (rd.models.slstm(1, 2, readout=3), "cross_entropy", 5, 9),  # overlap
}


@pytest.mark.parametrize("name", list(MINOR_CASES))
def test_the_minor_layout_equals_the_vmap_layout(name, getkey):
    """Points last, stepped elementwise (GridMinor), against jax.vmap over points."""
    model, loss, burn_in, steady = MINOR_CASES[name]
    theta, x0, us, ys = random_problem(model, getkey(), 12, loss=loss)
    d = ls.random_direction(getkey(), theta, distribution="gaussian")
    sub = ls.line_subspace(jax.tree_util.tree_map(jnp.add, theta, d), theta)
    s = np.linspace(-1, 3, 23)[:, None]
    if name == "rnn-relu":  # far out on the line the ReLU net overflows to inf
        s[-3:, 0] = 1e20, 1e30, 1e40
    kw = dict(loss=loss, burn_in=burn_in, steady_steps=steady, chunk_size=10)
    vmap = ls.evaluate(model, sub, s, x0, us, ys, layout="vmap", **kw)
    minor = ls.evaluate(model, sub, s, x0, us, ys, layout="minor", **kw)
    assert (vmap.layout, minor.layout) == ("vmap", "minor")
    finite = np.isfinite(vmap.loss)
    np.testing.assert_array_equal(np.isfinite(minor.loss), finite)
    np.testing.assert_allclose(minor.loss[finite], vmap.loss[finite], rtol=1e-12)
    if name == "rnn-relu":
        assert finite.sum() == 20  # NaN/inf kept, not dropped
    else:
        np.testing.assert_allclose(minor.steady, vmap.steady, rtol=1e-12, atol=1e-14)
        assert minor.steady.shape == (23, steady, model.output_size)
    # One point of the grid is rd.cost at that point.
    theta_0 = ls.point(sub, jnp.array([-1.0]))
    one = rd.cost(model, theta_0, x0, us, ys, loss=loss, burn_in=burn_in)
    np.testing.assert_allclose(minor.loss[0], one, rtol=1e-12)


def test_auto_layout_is_minor_for_small_cells_only(getkey):
    chaotic_model, theta, _ = chaotic()
    assert ls.resolve_layout(chaotic_model, theta) == "minor"
    assert ls.resolve_layout(chaotic_model, theta, platform="gpu") == "vmap"
    big = rd.models.lstm(1, 32, readout=1)  # 4,513 parameters
    assert ls.resolve_layout(big, big.init(getkey())) == "vmap"
    assert ls.resolve_layout(big, big.init(getkey()), "minor") == "minor"
    linear = rd.models.linear(2, 1, 1)
    assert not isinstance(linear, rd.models.GridMinor)
    assert ls.resolve_layout(linear, linear.init(getkey())) == "vmap"
    with pytest.raises(ValueError, match="needs a GridMinor model, got Linear"):
        ls.resolve_layout(linear, linear.init(getkey()), "minor")
    with pytest.raises(ValueError, match="layout must be one of"):
        ls.resolve_layout(big, big.init(getkey()), "rows")


def test_random_direction_distributions_and_filter_normalisation(getkey):
    model = rd.models.lstm(3, 5, readout=2)
    theta = model.init(getkey())
    d = ls.random_direction(getkey(), theta)
    flat = jax.flatten_util.ravel_pytree(d)[0]
    assert 0 <= flat.min() and flat.max() < 1  # U[0, 1), as torch.rand
    d = ls.random_direction(
        getkey(), theta, distribution="gaussian", filter_normalize=True
    )
    for leaf, ref in zip(
        jax.tree_util.tree_leaves(d), jax.tree_util.tree_leaves(theta), strict=True
    ):
        if ref.ndim == 2:
            np.testing.assert_allclose(
                np.linalg.norm(leaf, axis=1), np.linalg.norm(ref, axis=1), rtol=1e-12
            )
        else:
            assert np.all(leaf == 0)  # biases are left out, as Li et al.
    with pytest.raises(ValueError, match="distribution must be"):
        ls.random_direction(getkey(), theta, distribution="cauchy")


def test_evaluate_rejects_bad_coords(getkey, no_typecheck):
    model, theta, x0 = chaotic()
    us = jnp.zeros((10, 0))
    ys = rd.simulate(model, theta, x0, us).outputs
    sub = ls.line_subspace(theta, _zeros(theta))
    with pytest.raises(
        ValueError, match=r"coords must have shape \(b, 1\), got \(4, 2\)"
    ):
        ls.evaluate(model, sub, np.zeros((4, 2)), x0, us, ys)
    with pytest.raises(ValueError, match="steady_steps must be in"):
        ls.evaluate(model, sub, np.zeros((4, 1)), x0, us, ys, steady_steps=11)


def test_grid_points_are_the_row_major_mesh_made_chunk_by_chunk(getkey):
    axes = (np.linspace(-1, 1, 4), np.array([0.0, 2.0]), np.arange(3.0))
    grid = ls.Grid(axes)
    mesh = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    assert len(grid) == 24
    np.testing.assert_array_equal(grid[:], mesh)
    np.testing.assert_array_equal(grid[5:11], mesh[5:11])
    np.testing.assert_array_equal(grid[20:99], mesh[20:])
    # a plane from a Grid, in chunks of 5, is the plane from its dense mesh
    model, theta, x0 = chaotic()
    us = jnp.zeros((10, 0))
    ys = rd.simulate(model, theta, x0, us).outputs
    sub = ls.plane_subspace(_zeros(theta), theta, ls.random_direction(getkey(), theta))
    plane = np.stack(np.meshgrid(*axes[:2], indexing="ij"), axis=-1).reshape(-1, 2)
    dense = ls.evaluate(model, sub, plane, x0, us, ys)
    lazy = ls.evaluate(model, sub, ls.Grid(axes[:2]), x0, us, ys, chunk_size=5)
    np.testing.assert_array_equal(lazy.loss, dense.loss)
    with pytest.raises(ValueError, match="grid axes must be 1-D"):
        ls.Grid((np.zeros((2, 2)),))
    with pytest.raises(ValueError, match="has 2 axes, got 3"):
        ls.evaluate(model, sub, grid, x0, us, ys)


def test_a_grid_whose_results_cannot_fit_is_refused_before_any_work(monkeypatch):
    model, theta, x0 = chaotic()
    us = jnp.zeros((10, 0))
    ys = rd.simulate(model, theta, x0, us).outputs
    monkeypatch.setattr(validate, "available_memory", lambda on_device: 2**30)
    monkeypatch.setattr(ls, "_compile", None)  # would fail if reached
    s = np.linspace(0, 1, 2**14)
    with pytest.raises(
        ValueError, match=r"results need 2\.0 GiB of memory and 1\.0 GiB is free"
    ):
        ls.grid_2d(model, _zeros(theta), theta, theta, x0, us, ys, s, s)


def test_coordinates_and_local_minima_known_answers():
    s = ls.coordinates(0.5, 2.0, 4, exact=[1.0, 0.5])
    np.testing.assert_array_equal(s, [0.5, 1.0, 1.5, 2.0])
    assert ls.local_minima(np.array([3.0, 1.0, 2.0, 0.5, 4.0, np.nan, 1.0, 2.0])) == 2
    x = np.linspace(0, 4 * np.pi, 1001)
    assert ls.local_minima(np.cos(x)) == 2  # at π and 3π


def test_params_round_trip_through_npz(tmp_path, getkey):
    model = rd.models.lstm(2, 3, bias=False, readout=2)
    theta = model.init(getkey())
    save_params(tmp_path / "p.npz", theta)
    back = load_params(tmp_path / "p.npz", theta)
    assert jax.tree_util.tree_structure(back) == jax.tree_util.tree_structure(theta)
    for a, b in zip(
        jax.tree_util.tree_leaves(back), jax.tree_util.tree_leaves(theta), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(
        ValueError, match=r"\.weight_ih must have shape \(16, 2\), got \(12, 2\)"
    ):
        load_params(
            tmp_path / "p.npz",
            rd.models.lstm(2, 3, readout=2)
            .init(getkey())
            ._replace(bias_ih=None, bias_hh=None, weight_hh=jnp.zeros((12, 3)))
            ._replace(weight_ih=jnp.zeros((12, 2)))
            if False
            else rd.models.lstm(2, 4, bias=False, readout=2).init(getkey()),
        )


SHARDING_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import jax, jax.numpy as jnp, numpy as np
    jax.config.update("jax_enable_x64", True)
    import rnn_dyn as rd
    from rnn_dyn import landscape as ls
    from rnn_dyn.examples import chaotic_lstm
    assert len(jax.devices()) == 4, jax.devices()
    model, theta, x0 = chaotic_lstm("authors")
    us = jnp.zeros((60, 0))
    ys = rd.simulate(model, theta, x0, us).outputs
    rnd = ls.random_direction(jax.random.key(3), theta)
    zero = jax.tree_util.tree_map(jnp.zeros_like, theta)
    # 287 points: more than one chunk of the minor layout's 64 per device.
    s1, s2 = np.linspace(0, 2, 41), np.linspace(-0.5, 0.5, 7)
    out = {}
    runs = {
        "unchunked_1dev": dict(devices=jax.devices()[:1], chunk_size=10**6),
        "chunked_1dev": dict(devices=jax.devices()[:1], chunk_size=10),
        "sharded_4dev": dict(chunk_size=10**6),
        "sharded_chunked_4dev": dict(chunk_size=9),
    }
    for layout in ("minor", "vmap"):
        for name, kw in runs.items():
            if layout == "vmap" and name in ("chunked_1dev", "sharded_4dev"):
                continue
            g = ls.grid_2d(model, zero, theta, rnd, x0, us, ys, s1, s2, burn_in=20,
                           steady_steps=3, layout=layout, **kw)
            out[f"{layout}/{name}"] = [g.loss.tolist(), g.steady.tolist()]
    json.dump(out, sys.stdout)
    """
)


def test_chunked_unchunked_and_sharded_grids_are_identical():
    # Keep the caller's XLA flags (--xla_cpu_max_isa, say) and add 4 devices.
    devices = "--xla_force_host_platform_device_count=4"
    flags = f"{os.environ.get('XLA_FLAGS', '')} {devices}".strip()
    env = {**os.environ, "XLA_FLAGS": flags}
    result = subprocess.run(
        [sys.executable, "-c", SHARDING_SCRIPT], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    runs = {
        k: (np.array(v[0]), np.array(v[1]))
        for k, v in json.loads(result.stdout).items()
    }
    assert len(runs) == 6
    for name, (loss, steady) in runs.items():
        ref_loss, ref_steady = runs[name.split("/")[0] + "/unchunked_1dev"]
        assert ref_loss.shape == (41, 7) and np.all(np.isfinite(ref_loss))
        np.testing.assert_array_equal(loss, ref_loss, err_msg=name)
        np.testing.assert_array_equal(steady, ref_steady, err_msg=name)


def test_reference_outputs_equal_simulate_and_zero_the_loss(getkey):
    model = rd.models.gru(2, 4, readout=2)
    theta, x0, us, _ = random_problem(model, getkey(), 15)
    ys = ls.reference_outputs(model, theta, x0, us)
    np.testing.assert_allclose(
        ys, rd.simulate(model, theta, x0, us).outputs, rtol=1e-12
    )
    s = np.array([0.5, 1.0, 1.5])
    line = ls.line(model, theta, _zeros(theta), x0, us, ys, s, chunk_size=2)
    assert line.loss[1] == 0.0 and np.all(line.loss[[0, 2]] > 0)


def test_local_minima_of_lines_and_planes_match_a_brute_force_count():
    v = np.random.default_rng(0).normal(size=(9, 11))
    v[3, 4] = np.nan

    def brute(a):
        count = 0
        for idx in np.ndindex(*(n - 2 for n in a.shape)):
            i = tuple(k + 1 for k in idx)
            shifted = [
                a[tuple(k + o - 1 for k, o in zip(i, off, strict=True))]
                for off in np.ndindex(*(3,) * a.ndim)
                if off != (1,) * a.ndim
            ]
            count += bool(np.isfinite(a[i]) and all(a[i] < x for x in shifted))
        return count

    assert ls.local_minima(v) == brute(v) > 0
    assert ls.local_minima(v[2]) == brute(v[2]) > 0
    assert ls.local_minima(np.array([3.0, 1.0, np.nan, 0.0, 2.0])) == 0


def test_paper_and_centered_planes_pass_through_theta(getkey):
    model, theta, _ = chaotic()
    for plane in (ls.paper_plane(theta, getkey()), ls.centered_plane(theta, getkey())):
        subspace = ls.plane_subspace(*plane[:3])
        at = ls.point(subspace, jnp.asarray(plane.at_theta))
        for a, b in zip(
            jax.tree_util.tree_leaves(at), jax.tree_util.tree_leaves(theta), strict=True
        ):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-15)
    zero = ls.paper_plane(theta, getkey(), distribution="uniform").theta_o
    assert all(np.all(np.asarray(z) == 0) for z in jax.tree_util.tree_leaves(zero))
