import collections
import json
import subprocess
import sys

import jax
import numpy as np
import pytest

import rnn_dyn as rd
from rnn_dyn import _validate
from rnn_dyn.cli import main
from rnn_dyn.examples import regime_example


@pytest.mark.parametrize(
    "system, lengths, regime, growth",
    [
        ("contractive", (5, 10, 20, 40), "contractive", "bounded"),
        # exponential growth needs long enough N to tell from a power law
        ("chaotic-lstm", (20, 50, 100, 150), "expanding", "exponential"),
    ],
)
def test_measure_smoothness_regimes_and_theorem1_holds(
    system, lengths, regime, growth, getkey
):
    model, theta, x0, us = regime_example(system, max(lengths), key=getkey())
    report = rd.smoothness.measure_smoothness(
        model, theta, x0, us, lengths=lengths, radius=0.05, num_samples=3, key=getkey()
    )
    assert report.regime == regime
    assert report.growth_L_V.kind == growth
    # Theorem 1: the measured constants (lower bounds) never exceed the bounds.
    assert np.all(report.L_V <= report.bound_L_V)
    assert np.all(report.L_V_grad <= report.bound_L_V_grad)
    # The regime comes from max ‖A_t‖ along the trajectory, matched by a dense norm.
    xs = rd.simulate(model, theta, x0, us).states
    dense = max(
        np.linalg.norm(
            np.asarray(jax.jacfwd(lambda x, u=u: model.f(theta, x, u))(x)), 2
        )
        for x, u in zip(xs, us, strict=True)
    )
    np.testing.assert_allclose(report.L_f_state, dense, rtol=1e-6)


def test_neutral_example_has_an_orthogonal_state_matrix(getkey):
    model, theta, x0, us = regime_example("neutral", 10, key=getkey())
    np.testing.assert_allclose(theta.a @ theta.a.T, np.eye(4), atol=1e-12)
    assert np.all(us == 0)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--lengths", ""], "--lengths: expected at least 3"),
        (["--lengths", "10,20"], "--lengths: expected at least 3"),
        (["--lengths", "10,-20,30"], "--lengths: expected at least 3"),
        (["--radius", "0"], "--radius: expected a positive number"),
        (["--radius", "nan"], "--radius: expected a positive number"),
        (["--system", "lorenz"], "invalid choice: 'lorenz'"),
    ],
)
def test_smoothness_bad_flags_exit_2(args, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        raise SystemExit(main(["smoothness", *args, "--out", str(tmp_path / "x")]))
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err
    assert not (tmp_path / "x").exists()


def test_smoothness_cli_on_a_saved_model(tmp_path):
    # A saved linear model: ‖A_t‖₂ = ‖a‖₂ everywhere, so the report's state
    # Lipschitz constant and regime are known exactly.

    model = rd.models.linear(3, 1, 1)
    params = model.init(jax.random.key(3))
    a = params.a * (0.7 / np.linalg.norm(params.a, 2))
    rd.save_params(tmp_path / "p.npz", params._replace(a=a))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "rnn_dyn",
            "smoothness",
            *("--model", "linear", "--hidden", "3", "--params"),
            str(tmp_path / "p.npz"),
            *("--lengths", "4,8,16", "--samples", "2", "--x64"),
            *("--out", str(tmp_path / "out"), "--json"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["system"] == f"linear ({tmp_path / 'p.npz'})"
    assert summary["regime"] == "contractive" and summary["lengths"] == [4, 8, 16]
    np.testing.assert_allclose(summary["L_f_state"], 0.7, rtol=1e-8)
    for key in ("L_f", "L_g", "L_V", "L_V_grad", "bound_L_V", "bound_L_V_grad"):
        assert key in summary
    # Measured lower bounds never exceed Theorem 1's upper bounds.
    assert np.all(np.asarray(summary["L_V"]) <= np.asarray(summary["bound_L_V"]))
    assert summary["growth_L_V"]["kind"] in ("bounded", "polynomial", "exponential")
    out = tmp_path / "out"
    assert {p.name for p in out.iterdir()} == {"smoothness.png", "smoothness.json"}
    assert json.loads((out / "smoothness.json").read_text())["L_V"] == summary["L_V"]


def test_smoothness_cli_rejects_non_finite_params(tmp_path, capsys):

    model = rd.models.rnn(1, 4, readout=1)
    params = model.init(jax.random.key(0))
    w = np.asarray(params.weight_hh).copy()
    w[1, 2] = np.nan
    rd.save_params(tmp_path / "p.npz", params._replace(weight_hh=w))
    args = ["smoothness", "--model", "rnn", "--hidden", "4"]
    args += ["--params", str(tmp_path / "p.npz"), "--out", str(tmp_path / "x")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "must be finite: .weight_hh holds 1 non-finite value" in err
    assert not any((tmp_path / "x").iterdir())


def test_measure_smoothness_validates_its_arguments_once(monkeypatch, getkey):
    # Each check of rnn_dyn._validate is counted wherever a module bound it
    # (``from ._validate import check_params``): the public boundary checks
    # (params, x0, us, lengths, radius) once, and the kernels of simulate,
    # jacobian_norms, jacobian_lipschitz and cost_smoothness check nothing.
    calls = collections.Counter()
    for name in [n for n in vars(_validate) if n.startswith("check_")]:
        original = getattr(_validate, name)

        def counted(*args, _name=name, _original=original, **kwargs):
            calls[_name] += 1
            return _original(*args, **kwargs)

        for module in list(sys.modules.values()):
            if getattr(module, "__name__", "").startswith("rnn_dyn") and (
                getattr(module, name, None) is original
            ):
                monkeypatch.setattr(module, name, counted)
    # The first case of the regimes test above, whose kernels are compiled.
    model, theta, x0, us = regime_example("contractive", 40, key=getkey())
    rd.smoothness.measure_smoothness(
        model,
        theta,
        x0,
        us,
        lengths=(5, 10, 20, 40),
        radius=0.05,
        num_samples=3,
        key=getkey(),
    )
    assert calls["check_params"] == 1 and calls["check_state"] == 1
    assert calls["check_inputs"] == 1 and calls["check_finite_params"] == 1
    assert max(calls.values()) == 1, calls
