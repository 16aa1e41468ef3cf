"""`rnn-dyn lyapunov` and `rnn-dyn fixed-points` against closed forms."""

import json

import jax
import numpy as np
import pytest

import rnn_dyn as rd
from rnn_dyn.cli import main


def run(capsys, *args):
    code = main([*args, "--x64", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def test_lyapunov_of_the_logistic_map(tmp_path, capsys):
    out = tmp_path / "ly"
    summary = run(
        capsys, "lyapunov", "--system", "logistic", "--steps", "4000", "--out", str(out)
    )
    assert abs(summary["exponents"][0] - np.log(2)) < 0.02
    assert abs(summary["two_trajectory"]["exponent"] - np.log(2)) < 0.02
    assert summary["attractor"] == "chaotic" and summary["period"] is None
    assert summary["nonfinite_steps"] == 0 and summary["steps"] == 4000
    with np.load(out / "lyapunov.npz") as data:
        np.testing.assert_allclose(data["exponents"], summary["exponents"])
        assert data["history"].shape == (4000, 1)
        assert data["states"].shape == (4000, 1)
    assert {p.name for p in out.iterdir()} == {
        "lyapunov.npz",
        "lyapunov.json",
        "convergence.png",
        "attractor.png",
    }


def test_lyapunov_of_the_linear_system_is_log_abs_eigenvalues(tmp_path, capsys):
    summary = run(
        capsys,
        *("lyapunov", "--system", "linear", "--hidden", "4", "--steps", "3000"),
        *("--k", "2", "--no-plot", "--out", str(tmp_path)),
    )
    assert len(summary["exponents"]) == 2 == len(summary["expected"])
    # Complex pairs make the average converge like 1/T, hence the tolerance.
    np.testing.assert_allclose(summary["exponents"], summary["expected"], atol=2e-3)
    assert summary["attractor"] == "fixed-point"


def test_fixed_points_of_the_logistic_map_at_r32(tmp_path, capsys):
    r = 3.2
    summary = run(
        capsys,
        *("fixed-points", "--system", "logistic", "--r", str(r)),
        *("--max-period", "2", "--std", "0.2", "--out", str(tmp_path)),
    )
    by_period = {k: [c for c in summary["cycles"] if c["period"] == k] for k in (1, 2)}
    fixed = sorted(c["points"][0][0] for c in by_period[1])
    np.testing.assert_allclose(fixed, [0.0, 1 - 1 / r], atol=1e-10)
    assert all(c["stability"] == "unstable" for c in by_period[1])
    (cycle,) = by_period[2]
    root = np.sqrt((r - 3) * (r + 1))
    expected = sorted([(r + 1 - root) / (2 * r), (r + 1 + root) / (2 * r)])
    np.testing.assert_allclose(sorted(p[0] for p in cycle["points"]), expected)
    assert cycle["stability"] == "stable"
    np.testing.assert_allclose(cycle["spectral_radius"], abs(-(r**2) + 2 * r + 4))
    with np.load(tmp_path / "fixed_points.npz") as data:
        assert data["points_2"].shape == (1, 2, 1)


@pytest.mark.parametrize(
    "args, message",
    [
        (["lyapunov", "--system", "logistic", "--k", "2"], "--k must be at most"),
        (["lyapunov", "--system", "logistic", "--input", "1"], "takes no input"),
        (["lyapunov", "--model", "rnn", "--input", "1,2"], "--input must hold 1"),
        (["lyapunov", "--input", "x"], "--input: expected finite numbers"),
        (["lyapunov", "--steps", "1"], "--steps: expected an integer >= 2"),
        (["lyapunov", "--system", "lorenz"], "invalid choice: 'lorenz'"),
        (["fixed-points", "--std", "0"], "--std: expected a positive number"),
        (["fixed-points", "--max-period", "0"], "--max-period: expected an integer"),
        (["fixed-points", "--params", "/nonexistent.npz", "--model", "rnn"], "cannot"),
    ],
)
def test_bad_flags_exit_2_with_one_line(args, message, capsys, tmp_path):
    out = tmp_path / "x"
    with pytest.raises(SystemExit) as exc:
        raise SystemExit(main([*args, "--out", str(out)]))
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err
    assert not out.exists() or not any(out.iterdir())


def test_lyapunov_of_a_saved_model_with_nan_weights_exits_2(tmp_path, capsys):
    model = rd.models.gru(1, 3, readout=1)
    params = model.init(jax.random.key(0))
    rd.save_params(tmp_path / "p.npz", params._replace(bias_hh=params.bias_hh * np.inf))
    args = ["lyapunov", "--model", "gru", "--hidden", "3", "--params"]
    assert main([*args, str(tmp_path / "p.npz"), "--out", str(tmp_path / "x")]) == 2
    assert (
        "must be finite: .bias_hh holds 9 non-finite values" in capsys.readouterr().err
    )


def test_library_warnings_print_once_on_one_line(capsys):
    import warnings

    from rnn_dyn.cli._main import one_line_warning as _one_line_warning

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = _one_line_warning("lyapunov")
        for _ in range(2):
            warnings.warn("float32 over 20000 steps", UserWarning, stacklevel=1)
    err = capsys.readouterr().err
    assert err == "rnn-dyn lyapunov: warning: float32 over 20000 steps\n"


def test_entropy_of_a_saved_linear_map_follows_theorem_2(tmp_path, capsys):
    # x' = A x maps a Gaussian to a Gaussian: H_{t+1} − H_t = log|det A|
    # exactly, below the bound n log ‖A‖₂ (the printed (S3) claims above).
    model = rd.models.linear(3, 0, 1)
    params = model.init(jax.random.key(0))
    q = np.linalg.qr(np.asarray(jax.random.normal(jax.random.key(1), (3, 3))))[0]
    a = q @ np.diag([1.1, 0.9, 0.7])
    rd.save_params(tmp_path / "a.npz", params._replace(a=a))
    summary = run(
        capsys,
        *("entropy", "--model", "linear", "--hidden", "3", "--input-size", "0"),
        *("--params", str(tmp_path / "a.npz"), "--samples", "1000", "--steps", "4"),
        *("--out", str(tmp_path / "out")),
    )
    log_det = np.log(1.1 * 0.9 * 0.7)
    np.testing.assert_allclose(summary["log_det_mean"], log_det, rtol=1e-12)
    np.testing.assert_allclose(summary["lipschitz"], 1.1, rtol=1e-12)
    np.testing.assert_allclose(np.diff(summary["H"]), log_det, atol=0.05)
    assert summary["violations"] == []
    assert summary["printed_violations"] == [0, 1, 2, 3]
    assert {p.name for p in (tmp_path / "out").iterdir()} == {
        "entropy.npz",
        "entropy.json",
        "entropy.png",
    }


def test_entropy_bad_flags(capsys, tmp_path):
    for args, message in [
        (["--samples", "4"], "--samples: expected an integer >= 8"),
        (["--samples", "10", "--k", "10"], "--k must be below --samples"),
        (["--std", "-1"], "--std: expected a positive number"),
    ]:
        with pytest.raises(SystemExit) as exc:
            raise SystemExit(main(["entropy", *args, "--out", str(tmp_path / "x")]))
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and message in err


def test_a_run_directory_as_params_analyses_the_trained_model(tmp_path, capsys):
    """``--params RUN`` takes the model from config.json and θ from params.npz."""
    import jax

    import rnn_dyn as rd
    from rnn_dyn.train import Run, TrainConfig, fit

    config = TrainConfig(
        task="symbols",
        hidden=5,
        seq_len=10,
        n_train=40,
        n_val=20,
        batch_size=20,
        epochs=1,
    )
    fit(config, tmp_path / "run")
    summary = run(
        capsys,
        "lyapunov",
        "--params",
        str(tmp_path / "run"),
        "--steps",
        "300",
        "--burn-in",
        "50",
        "--input",
        "0.5",
        "--no-plot",
        "--out",
        str(tmp_path / "ly"),
    )
    run_dir = Run(tmp_path / "run")
    model = run_dir.model()
    params = run_dir.params(model=model)
    x0 = model.initial_state(params)
    us = jax.numpy.full((350, model.input_size), 0.5)
    expected = rd.lyapunov_spectrum(
        model, params, x0, us, burn_in=50, key=jax.random.key(0)
    )
    assert summary["k"] == model.state_size == 10
    np.testing.assert_allclose(summary["exponents"], expected.exponents, rtol=1e-6)
    assert "lstm on symbols" in summary["system"]
    code = main(
        [
            "lyapunov",
            "--params",
            str(tmp_path / "run"),
            "--model",
            "gru",
            "--out",
            str(tmp_path / "x"),
        ]
    )
    assert code == 2 and "differs from the run's model" in capsys.readouterr().err
    code = main(
        ["lyapunov", "--params", str(tmp_path / "p.npz"), "--out", str(tmp_path / "x")]
    )
    assert code == 2 and "needs --model" in capsys.readouterr().err
