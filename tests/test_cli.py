"""The command line, ``rnn-dyn`` (``python -m rnn_dyn``): every test that drives it.

Commands run in a child process (`run_cli`) where the process itself is under
test (entry points, imports, files left behind, a real kill) and in-process
through `rnn_dyn.cli.main` elsewhere (`run_json`, `cli_error`); the library
each command wraps is tested in that module's own file.
"""

import dataclasses
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import small_config, write_corpus

import rnn_dyn as rd
from rnn_dyn.cli import build_parser, main
from rnn_dyn.cli._inputs import train_config as _train_config
from rnn_dyn.train import (
    PROTOCOLS,
    TASK_DEFAULTS,
    Run,
    TrainConfig,
    fit,
    read_history,
)

RNN_DYN = [sys.executable, "-m", "rnn_dyn"]


def run_cli(*args, env=None):
    """Run ``python -m rnn_dyn ARGS`` in a child process, with text output."""
    return subprocess.run(
        [*RNN_DYN, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "MPLBACKEND": "Agg", **(env or {})},
        timeout=300,
    )


def run_json(capsys, *args):
    """Run ``main(ARGS --x64 --json)``, which must succeed; return its summary."""
    code = main([*args, "--x64", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def snapshot(root):
    """Every path under ``root`` with its bytes (None for a directory)."""
    return {
        str(p.relative_to(root)): None if p.is_dir() else p.read_bytes()
        for p in sorted(root.rglob("*"))
    }


def cli_error(capsys, argv):
    """Run ``main(argv)``, which must exit with status 2; return its stderr."""
    with pytest.raises(SystemExit) as exc:
        raise SystemExit(main(argv))
    assert exc.value.code == 2
    return capsys.readouterr().err


# --------------------------------------------------------------------------- #
# Entry points and messages
# --------------------------------------------------------------------------- #


def test_help_does_not_import_jax():
    code = (
        "import sys\nfrom rnn_dyn.cli import main\n"
        "try: main(['--help'])\nexcept SystemExit: pass\n"
        "print('jax' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_module_and_script_entry_points_agree():
    result = run_cli("--help")
    assert result.returncode == 0 and "simulate" in result.stdout
    script = Path(sys.executable).with_name("rnn-dyn")
    if script.exists():
        out = subprocess.run([str(script), "--help"], capture_output=True, text=True)
        assert out.returncode == 0 and out.stdout == result.stdout


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


# --------------------------------------------------------------------------- #
# simulate
# --------------------------------------------------------------------------- #


def test_simulate_writes_trajectory_and_figure(tmp_path):
    out = tmp_path / "sim"
    result = run_cli(
        *("simulate", "--system", "chaotic-lstm", "--steps", "300"),
        *("--burn-in", "50", "--out", str(out), "--json", "--x64"),
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["system"] == "chaotic-lstm" and summary["variant"] == "authors"
    assert summary["dtype"] == "float64" and summary["nonfinite_steps"] == 0
    data = np.load(out / "trajectory.npz")
    assert data["states"].shape == (300, 4) and data["outputs"].shape == (300, 2)
    # The file holds the library's trajectory, not something else.
    model, params, x0 = rd.examples.chaotic_lstm("authors")
    states = data["states"]
    np.testing.assert_array_equal(states[0], x0)
    # Every state is one step of the authors' LSTM from the one before; a
    # whole-run comparison with another compiled program would test the last
    # bits of a chaotic orbit (e^{0.17·300} ≈ 1e22), which CPUs need not share.
    step = jax.vmap(lambda x: model.f(params, x, jnp.zeros(0)))
    np.testing.assert_allclose(
        step(jnp.asarray(states[:-1])), states[1:], rtol=1e-12, atol=1e-14
    )
    # And it is rd.simulate's while rounding cannot yet matter (e^{0.17·50}).
    ref = rd.simulate(model, params, x0, jnp.zeros((300, 0)))
    np.testing.assert_allclose(states[:50], ref.states[:50], rtol=1e-10, atol=1e-12)
    png = (out / "attractor.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [
        p for p in out.iterdir() if p.name.startswith(".")
    ]  # no temp files left


def test_simulate_logistic_counts_overflow(tmp_path):
    result = run_cli(
        *("simulate", "--system", "logistic", "--r", "4.5", "--steps", "200"),
        *("--burn-in", "0", "--out", str(tmp_path), "--json"),
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["nonfinite_steps"] > 0
    states = np.load(tmp_path / "trajectory.npz")["states"]
    assert summary["nonfinite_steps"] == int((~np.isfinite(states)).any(axis=1).sum())


def test_unwritable_out_exits_2_and_writes_nothing(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = run_cli(
        "simulate", "--steps", "20", "--burn-in", "0", "--out", str(blocker / "sub")
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "cannot write to output directory" in result.stderr
    assert blocker.read_text() == "not a directory"


def test_a_full_disk_exits_1_with_one_line_and_keeps_the_previous_outputs(
    tmp_path, capsys, monkeypatch
):
    import errno

    import rnn_dyn._io as io

    argv = ["simulate", "--system", "logistic", "--steps", "20", "--out", str(tmp_path)]
    assert main([*argv, "--burn-in", "0"]) == 0
    capsys.readouterr()
    before = snapshot(tmp_path)

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(io.os, "fsync", full)
    assert main([*argv, "--burn-in", "5"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "No space left on device" in err[0], err
    assert snapshot(tmp_path) == before


def _npz_bytes(compressed=False, **arrays):
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, **arrays)
    return buffer.getvalue()


def _zip_bytes(members):
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _corrupt_deflate():
    data = bytearray(_npz_bytes(True, w=np.random.default_rng(0).random((60, 60))))
    data[2000:2400] = bytes(b ^ 0xFF for b in data[2000:2400])
    return bytes(data)


BROKEN_PARAMS = {
    "empty": (b"", "is empty"),
    "text": (b"weight_ih = 1\n", "not a whole .npz archive"),
    "truncated": (_npz_bytes(w=np.ones((60, 60)))[:20_000], "not a whole .npz"),
    "corrupt deflate data": (_corrupt_deflate(), "is truncated or corrupt"),
    "pickled objects": (_npz_bytes(w=np.array([{}], object)), "object (pickled)"),
    "other names": (_npz_bytes(w=np.ones(3)), "has no array '.weight_ih'"),
    "a zip of text": (_zip_bytes({"notes.txt": b"hi"}), "not .npy arrays"),
    "a directory without a run": (None, "holds no run (no config.json)"),
}


@pytest.mark.parametrize("kind", sorted(BROKEN_PARAMS))
def test_every_kind_of_broken_params_file_is_one_line_and_exit_2(
    kind, tmp_path, capsys
):
    data, message = BROKEN_PARAMS[kind]
    path = tmp_path / "params.npz"
    path.mkdir() if data is None else path.write_bytes(data)
    before = snapshot(tmp_path)
    out = tmp_path / "out"
    argv = ["lyapunov", "--model", "rnn", "--params", str(path), "--out", str(out)]
    err = cli_error(capsys, argv)
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert snapshot(tmp_path) == before


# --------------------------------------------------------------------------- #
# chaotic-lstm and landscape
# --------------------------------------------------------------------------- #

LANDSCAPE_FILES = {
    "attractor.png",
    "line.png",
    "plane.png",
    "landscape.npz",
    "summary.json",
}


def test_chaotic_lstm_small_run_writes_every_file(tmp_path):
    out = tmp_path / "cl"
    result = run_cli(
        *("chaotic-lstm", "--line", "60", "--grid", "12,9"),
        *("--out", str(out), "--json", "--quiet"),
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["variant"] == "authors" and summary["loss_at_true"] == 0.0
    assert summary["loss_at_true_plane"] == 0.0
    assert summary["line"]["n"] == 61 and summary["line"]["s_min"] == 0.5
    assert summary["grid"]["shape"] == [13, 9]  # plus the exact s1 = 1 and s2 = 0
    assert {"compile", "line", "grid"} <= set(summary["seconds"])
    assert summary["points_per_second"] > 0 and summary["devices"]
    assert {p.name for p in out.iterdir()} == LANDSCAPE_FILES
    data = np.load(out / "landscape.npz")
    assert data["line_loss"].shape == (61,) and data["grid_loss"].shape == (13, 9)
    assert data["line_steady"].shape == (61, 100, 2)
    assert data["plane_directions"].shape == (2, 16)
    # The saved direction is θ_true itself (θ_o = 0), as the paper's plane.
    np.testing.assert_allclose(data["plane_directions"][0], data["theta"])
    assert json.loads((out / "summary.json").read_text())["line"] == summary["line"]
    assert summary["line"]["local_minima"] == rd.landscape.local_minima(
        data["line_loss"]
    )


def test_landscape_with_saved_params_and_overflow(tmp_path):
    from rnn_dyn._io import save_params

    model = rd.models.logistic(3.9)
    save_params(tmp_path / "p.npz", model.init(jax.random.key(0)))
    out = tmp_path / "ls"
    result = run_cli(
        *("landscape", "--model", "logistic", "--params", str(tmp_path / "p.npz")),
        *("--s-range", "0.5,1.5", "--line", "40", "--grid", "8", "--seq-len", "50"),
        *("--burn-in", "10", "--out", str(out), "--json"),
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    # r = 3.9 s beyond s ≈ 1.026 leaves [0, 1] and diverges: counted, not hidden.
    assert summary["line"]["nonfinite"] > 0 and summary["grid"]["nonfinite"] > 0
    assert summary["loss_at_true"] == 0.0
    assert {p.name for p in out.iterdir()} == LANDSCAPE_FILES
    data = np.load(out / "landscape.npz")
    assert summary["line"]["nonfinite"] == int((~np.isfinite(data["line_loss"])).sum())
    np.testing.assert_allclose(data["theta"], [3.9])


def test_chaotic_lstm_unwritable_out_exits_2(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_cli(
        "chaotic-lstm", "--line", "5", "--grid", "3", "--out", str(blocker)
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1


# --------------------------------------------------------------------------- #
# lyapunov, fixed-points, entropy and smoothness, against closed forms
# --------------------------------------------------------------------------- #


def test_lyapunov_of_the_logistic_map(tmp_path, capsys):
    out = tmp_path / "ly"
    summary = run_json(
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
    summary = run_json(
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
    summary = run_json(
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


def test_lyapunov_of_a_saved_model_with_nan_weights_exits_2(tmp_path, capsys):
    model = rd.models.gru(1, 3, readout=1)
    params = model.init(jax.random.key(0))
    rd.save_params(tmp_path / "p.npz", params._replace(bias_hh=params.bias_hh * np.inf))
    args = ["lyapunov", "--model", "gru", "--hidden", "3", "--params"]
    assert main([*args, str(tmp_path / "p.npz"), "--out", str(tmp_path / "x")]) == 2
    assert (
        "must be finite: .bias_hh holds 9 non-finite values" in capsys.readouterr().err
    )


@pytest.mark.slow  # child processes that compile: the slow tier
def test_a_run_directory_as_params_analyses_the_trained_model(tmp_path, capsys):
    """``--params RUN`` takes the model from config.json and θ from params.npz."""
    config = small_config(hidden=5, seq_len=10, n_train=40, n_val=20, lr=1e-3, epochs=1)
    fit(config, tmp_path / "run")
    summary = run_json(
        capsys,
        *("lyapunov", "--params", str(tmp_path / "run"), "--steps", "300"),
        *("--burn-in", "50", "--input", "0.5", "--no-plot"),
        *("--out", str(tmp_path / "ly")),
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
            *("lyapunov", "--params", str(tmp_path / "run")),
            *("--model", "gru", "--out", str(tmp_path / "x")),
        ]
    )
    assert code == 2 and "differs from the run's model" in capsys.readouterr().err
    code = main(
        ["lyapunov", "--params", str(tmp_path / "p.npz"), "--out", str(tmp_path / "x")]
    )
    assert code == 2 and "needs --model" in capsys.readouterr().err


def test_entropy_of_a_saved_linear_map_follows_theorem_2(tmp_path, capsys):
    # x' = A x maps a Gaussian to a Gaussian: H_{t+1} − H_t = log|det A|
    # exactly, below the bound n log ‖A‖₂ (the printed (S3) claims above).
    model = rd.models.linear(3, 0, 1)
    params = model.init(jax.random.key(0))
    q = np.linalg.qr(np.asarray(jax.random.normal(jax.random.key(1), (3, 3))))[0]
    a = q @ np.diag([1.1, 0.9, 0.7])
    rd.save_params(tmp_path / "a.npz", params._replace(a=a))
    summary = run_json(
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
        err = cli_error(capsys, ["entropy", *args, "--out", str(tmp_path / "x")])
        assert len(err.strip().splitlines()) == 1 and message in err


@pytest.mark.slow  # child processes that compile: the slow tier
def test_smoothness_cli_on_a_saved_model(tmp_path):
    # A saved linear model: ‖A_t‖₂ = ‖a‖₂ everywhere, so the report's state
    # Lipschitz constant and regime are known exactly.
    model = rd.models.linear(3, 1, 1)
    params = model.init(jax.random.key(3))
    a = params.a * (0.7 / np.linalg.norm(params.a, 2))
    rd.save_params(tmp_path / "p.npz", params._replace(a=a))
    result = run_cli(
        "smoothness",
        *("--model", "linear", "--hidden", "3", "--params"),
        str(tmp_path / "p.npz"),
        *("--lengths", "4,8,16", "--samples", "2", "--x64"),
        *("--out", str(tmp_path / "out"), "--json"),
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
    assert not (tmp_path / "x").exists()  # bad input creates no --out


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
    err = cli_error(capsys, ["smoothness", *args, "--out", str(tmp_path / "x")])
    assert len(err.strip().splitlines()) == 1 and message in err
    assert not (tmp_path / "x").exists()


# --------------------------------------------------------------------------- #
# Flags that write nothing: simulate, chaotic-lstm, landscape, lyapunov and
# fixed-points exit with status 2 and one line on stderr
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    "args, message",
    [
        (["simulate", "--steps", "-3"], "--steps: expected an integer >= 1"),
        (["simulate", "--steps", "ten"], "--steps: expected an integer >= 1"),
        (["simulate", "--system", "lorenz"], "invalid choice: 'lorenz'"),
        (["simulate", "--variant", "typo"], "invalid choice: 'typo'"),
        (
            ["simulate", "--steps", "10", "--burn-in", "10"],
            "--burn-in must be below --steps",
        ),
        (["simulate", "--bogus"], "unrecognized arguments: --bogus"),
        (["simulate", "--seed", str(10**30)], "--seed: expected an integer seed"),
        (["lyapunov", "--seed", "-1"], "--seed: expected an integer seed in"),
        (["simulate", "--steps", str(2**31)], "--steps: expected an integer <="),
        (["simulate", "--system", "logistic", "--r", "nan"], "--r: expected a finite"),
        (["simulate", "--system", "henon", "--r", "3"], "--r is for logistic, not"),
        (["simulate", "--model", "rnn", "--a", "1"], "--a is for henon, not rnn"),
        (["smoothness", "--model", "rnn", "--variant", "printed"], "is for chaotic"),
        (["lyapunov", "--system", "henon", "--model", "rnn"], "exclude each other"),
        (["simulate", "--system", "logistic", "--hidden", "4"], "--hidden is for"),
        (["lyapunov", "--system", "henon", "--readout", "2"], "--readout is for"),
        (["smoothness", "--variant", "printed"], "--variant is for"),
        (["smoothness", "--system", "neutral", "--model", "rnn"], "exclude each"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["chaotic-lstm", "--line", "-5"], "--line: expected an integer >= 2"),
        (["chaotic-lstm", "--grid", "0"], "--grid: expected N or N1,N2"),
        (["chaotic-lstm", "--grid", "3,4,5"], "--grid: expected N or N1,N2"),
        (["chaotic-lstm", "--s-range", "2,0.5"], "--s-range: expected finite LOW,HIGH"),
        (["chaotic-lstm", "--s2-range", "x"], "--s2-range: expected finite LOW,HIGH"),
        (["chaotic-lstm", "--variant", "typo"], "invalid choice: 'typo'"),
        (["chaotic-lstm", "--seq-len", "50"], "--burn-in must be below --seq-len"),
        (["landscape", "--model", "transformer"], "invalid choice: 'transformer'"),
        (["landscape", "--params", "/nonexistent.npz"], "cannot read params file"),
        (["landscape", "--model", "linear", "--layout", "minor"], "--layout minor"),
        (["chaotic-lstm", "--layout", "rows"], "invalid choice: 'rows'"),
        (["chaotic-lstm", "--chunk-size", "0"], "--chunk-size: expected an integer"),
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
@pytest.mark.parametrize("existing", [False, True], ids=["new-out", "old-out"])
def test_bad_flags_exit_2_with_one_line(args, message, existing, capsys, tmp_path):
    out = tmp_path / "x"
    if existing:  # a previous run's outputs, which must stay as they are
        out.mkdir()
        (out / "summary.json").write_text('{"previous": true}')
    before = snapshot(tmp_path)
    # Every command takes --out; an unknown one is given none.
    argv = [*args, "--out", str(out)] if args[0] != "frobnicate" else args
    err = cli_error(capsys, argv)
    assert len(err.strip().splitlines()) == 1 and message in err
    assert "Traceback" not in err
    assert snapshot(tmp_path) == before  # no --out created, nothing in it changed


# --------------------------------------------------------------------------- #
# train, orbit and history
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("task", ["sine", "symbols", "lm"])
@pytest.mark.parametrize(
    "flags",
    [
        {},
        {
            "hidden": 7,
            "dropout": 0.2,
            "schedule": "multistep",
            "orbit_every": 2,
            "orbit_steps": 5000,
        },
    ],
    ids=["defaults", "given"],
)
@pytest.mark.parametrize("protocol", ["rnn_dyn", "authors"])
def test_cli_and_library_build_the_same_config(task, flags, protocol, tmp_path):
    """`rnn-dyn train TASK FLAGS` trains what `TrainConfig(task=TASK, **FLAGS)` does."""
    data = {"data": str(tmp_path)} if task == "lm" else {}
    if task != "lm":
        flags = {k: v for k, v in flags.items() if k != "dropout"}  # lm only
    argv = ["train", task, "--out", str(tmp_path / "run"), "--protocol", protocol]
    for name, value in {**data, **flags}.items():
        argv += ["--" + name.replace("_", "-"), str(value)]
    from_cli = _train_config(build_parser().parse_args(argv))
    library = TrainConfig(task=task, protocol=protocol, **data, **flags)
    assert from_cli == library
    for name, default in PROTOCOLS[protocol][task].items():
        assert getattr(library, name) == flags.get(name, default), name
    assert TrainConfig.from_json(json.loads(json.dumps(library.to_json()))) == library


def test_the_parser_offers_the_libraries_protocols_and_projections():
    """The parser writes these names out (to parse without importing training)."""
    from rnn_dyn.cli import _parser
    from rnn_dyn.train import _config

    assert _parser.PROTOCOL_NAMES == _config.PROTOCOL_NAMES == tuple(PROTOCOLS)
    assert _parser.STABILIZERS == tuple(_config.STABILIZERS)
    assert _parser.LAYOUTS == rd.landscape.LAYOUTS
    assert PROTOCOLS["rnn_dyn"] is TASK_DEFAULTS


def _train_args(out, epochs):
    return [
        "train",
        "symbols",
        *("--hidden", "8", "--seq-len", "40", "--n-train", "400", "--n-val", "20"),
        *("--batch-size", "10", "--epochs", str(epochs), "--x64", "--quiet"),
        *("--out", str(out)),
    ]


@pytest.mark.slow  # child processes that compile: the slow tier
def test_resume_after_a_real_kill_matches_an_uninterrupted_run(tmp_path):
    # The three runs compile the same kernels: share them through JAX's
    # persistent cache (the same executables, so the same numbers).
    cache = {
        "JAX_COMPILATION_CACHE_DIR": str(tmp_path / "jax-cache"),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
    }
    env = {**os.environ, "MPLBACKEND": "Agg", **cache}
    full = run_cli(*_train_args(tmp_path / "full", 4), env=cache)
    assert full.returncode == 0, full.stderr
    proc = subprocess.Popen([*RNN_DYN, *_train_args(tmp_path / "cut", 4)], env=env)
    history = tmp_path / "cut" / "history.csv"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if (tmp_path / "cut" / "state.msgpack").exists():
            break  # one epoch done: the second is running
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(read_history(history))
    assert 1 <= done < 4
    resumed = run_cli(*_train_args(tmp_path / "cut", 4), "--resume", env=cache)
    assert resumed.returncode == 0, resumed.stderr
    with (
        np.load(tmp_path / "full" / "params.npz") as a,
        np.load(tmp_path / "cut" / "params.npz") as b,
    ):
        assert a.files == b.files
        for name in a.files:
            np.testing.assert_array_equal(a[name], b[name])
    assert read_history(tmp_path / "cut" / "history.csv")[-1]["epoch"] == 4


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "poetry"], "invalid choice: 'poetry'"),
        (["train", "symbols", "--model", "transformer"], "invalid choice"),
        (["train", "symbols", "--hidden", "0"], "--hidden: expected an integer >= 1"),
        (["train", "symbols", "--seeds", "1,1"], "--seeds: expected distinct"),
        (["train", "symbols", "--seeds", str(2**40)], "--seeds: expected distinct"),
        (["train", "symbols", "--hidden", str(2**32)], "--hidden: expected an int"),
        (["train", "sine", "--tied"], "--tied is for the lm task only"),
        (["train", "symbols", "--stabilize", "clip"], "--stabilize is for --model"),
        (["train", "sine", "--orbit-inits", "3"], "--orbit-inits needs --orbit-every"),
        (["train", "lm", "--data", ".", "--no-shuffle"], "--no-shuffle is for sine"),
        (["train", "sine", "--bptt", "5"], "--bptt is for the lm task only"),
        (["train", "sine", "--milestones", "1"], "--milestones is for --schedule"),
        (["train", "symbols", "--stabilize", "authors"], "--stabilize is for --model"),
        (["train", "symbols", "--protocol", "theirs"], "invalid choice: 'theirs'"),
        (["train", "sine", "--ornn-variant", "authors"], "--ornn-variant is for"),
        (["train", "symbols", "--orbit-space", "logits"], "--orbit-space is for the"),
        (["train", "symbols", "--orbit-untrained"], "--orbit-untrained needs --orbit"),
        (
            [
                "train",
                "lm",
                "--data",
                ".",
                "--orbit-every",
                "1",
                "--orbit-word-pool",
                "-1",
            ],
            "--orbit-word-pool: expected an integer >= 0",
        ),  # fmt: skip
        (["reproduce"], "give an experiment NAME"),
        (["reproduce", "supp-fig-9"], "invalid choice: 'supp-fig-9'"),
        (["reproduce", "supp-fig-3", "--scale", "huge"], "invalid choice: 'huge'"),
        (["reproduce", "supp-fig-5", "--scale", "smoke"], "supp-fig-5 needs --data"),
        (["train", "sine", "--clip", "inf"], "--clip: expected a finite number"),
        (
            ["train", "sine", "--orbit-steps", "10", "--orbit-burn-in", "10"],
            "--orbit-burn-in must be in [0, --orbit-steps=10)",
        ),
        (["train", "symbols", "--resume"], "cannot resume"),
        (["orbit", "/nonexistent"], "cannot read"),
        (["history", "/nonexistent"], "cannot read"),
    ],
)
def test_bad_train_flags_exit_2(args, message, capsys, tmp_path):
    out = tmp_path / "x"
    extra = ["--out", str(out)] if args[0] == "train" else []
    err = cli_error(capsys, [*args, *extra])
    assert len(err.strip().splitlines()) == 1 and message in err


@pytest.mark.filterwarnings("always")  # as outside pytest: printed, not raised
def test_orbit_says_which_records_are_not_finite(tmp_path, capsys):
    from rnn_dyn.orbit import append_orbit

    record = np.linspace(0.0, 1.0, 24).reshape(6, 2, 1, 2)  # steps, inits, in, out
    diverged = record.copy()
    diverged[3:, :, :, 0] = np.inf  # 6 of output 0's 12 values
    for epoch, outputs in enumerate((record, diverged, record)):
        append_orbit(tmp_path / "orbit.npz", outputs, epoch)
    assert main(["orbit", str(tmp_path)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].endswith("epochs 1"), err
    assert "6 of 36 drawn values are non-finite" in err[0]
    assert main(["orbit", str(tmp_path), "--output", "1"]) == 0
    assert "non-finite" not in capsys.readouterr().err
    nan = tmp_path / "nan"
    nan.mkdir()
    append_orbit(nan / "orbit.npz", np.full_like(record, np.nan), 0)
    assert main(["orbit", str(nan)]) == 0
    assert "every drawn value is non-finite" in capsys.readouterr().err


def test_resume_of_a_corrupted_run_exits_2_and_leaves_it(tmp_path, capsys):
    fit(small_config(epochs=1), tmp_path)
    (tmp_path / "state.msgpack").write_bytes(b"not a state")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    args = ["train", "symbols", "--resume", "--epochs", "3", "--out", str(tmp_path)]
    assert main(args) == 2
    assert "is corrupted" in capsys.readouterr().err
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert after == before


@pytest.mark.slow  # child processes that compile: the slow tier
def test_cli_trains_a_language_model_and_draws_its_orbits(tmp_path, capsys):
    root = write_corpus(tmp_path / "c", splits=("valid", "test"), bom=True)
    out = tmp_path / "run"
    args = [
        "train",
        "lm",
        "--data",
        str(root),
        "--train-split",
        "valid",
        "--hidden",
        "6",
        "--batch-size",
        "3",
        "--bptt",
        "8",
        "--epochs",
        "2",
        "--orbit-every",
        "1",
        "--orbit-steps",
        "40",
        "--orbit-burn-in",
        "30",
        "--orbit-words",
        "is,dog",
        "--out",
        str(out),
        "--json",
        "--cache-corpus",
    ]
    code = main(args)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out)
    final = summary["final"]
    assert final["test_ppl"] == pytest.approx(np.exp(final["test_loss"]))
    assert final["val_ppl"] < 40  # far below uniform over the vocabulary
    assert (root / ".rnn_dyn_corpus.npz").exists()
    code = main(["orbit", str(out)])
    assert code == 0 and (out / "orbit_orbit1d.png").stat().st_size > 10_000


VALID = ["--data", "{root}", "--train-split", "valid"]  # the corpus has no train.txt


@pytest.mark.parametrize(
    "extra, message",
    [
        ([], "train lm needs --data DIR"),
        (["--data", "{root}"], "has no train.txt"),
        (
            [*VALID, "--orbit-words", "Valkyria", "--orbit-every", "1"],
            "'Valkyria' is not in the vocabulary",
        ),
        (
            [*VALID, "--orbit-projections", "nope", "--orbit-every", "2"],
            "projection 'nope' is not",
        ),
        ([*VALID, "--tied", "--embed", "3"], "--tied weights need --embed == --hidden"),
        ([*VALID, "--bptt", "1000"], "too short for bptt 1000"),
        ([*VALID, "--dropout", "1"], "expected a number in [0, 1)"),
    ],
)
def test_bad_language_model_flags_exit_2_with_one_line(
    extra, message, tmp_path, capsys
):
    root = write_corpus(tmp_path / "c", splits=("valid", "test"))
    out = tmp_path / "run"
    args = [
        "train",
        "lm",
        "--hidden",
        "4",
        "--epochs",
        "1",
        "--out",
        str(out),
        "--batch-size",
        "3",
        "--bptt",
        "8",
    ]
    args += [a.format(root=root) for a in extra]
    err = cli_error(capsys, args).strip()
    assert message in err and "\n" not in err
    assert not (out / "state.msgpack").exists()


# --------------------------------------------------------------------------- #
# When things go wrong: locks, interrupts, NaN, strict JSON, resume checks
# --------------------------------------------------------------------------- #


def _wait_for(path, proc, seconds=240):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None and not path.exists():
        time.sleep(0.02)
    assert proc.poll() is None and path.exists(), f"{path} never appeared"


@pytest.mark.slow  # child processes that compile: the slow tier
def test_two_writers_of_one_run_dir_the_second_is_refused(tmp_path, capsys):
    """A runs into RUN; B, started meanwhile, is refused and changes nothing;
    Ctrl-C ends A at once (130), leaving a run that resumes."""
    out = tmp_path / "run"
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.Popen(
        [*RNN_DYN, *_train_args(out, 300)], env=env, stderr=subprocess.PIPE, text=True
    )
    _wait_for(out / "state.msgpack", proc)  # A holds the lock, one epoch done
    config = (out / "config.json").read_bytes()
    err = cli_error(
        capsys, _train_args(out, 1)[:-2] + ["--hidden", "4", "--out", str(out)]
    )
    assert "in use by process" in err and str(proc.pid) in err
    assert cli_error(capsys, ["history", str(out)]).count("in use by process") == 1
    assert (out / "config.json").read_bytes() == config
    start = time.monotonic()
    proc.send_signal(signal.SIGINT)
    stderr = proc.communicate(timeout=10)[1]
    assert proc.returncode == 130 and time.monotonic() - start < 5
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert not (out / ".lock").exists() and not list(out.glob(".*tmp"))
    done = Run(out).history()[-1]["epoch"]
    config = dataclasses.replace(Run(out).config(), epochs=done + 1)
    assert fit(config, out, resume=True).state.epoch == done + 1


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = lambda pid: json.dumps({"pid": pid, "host": socket.gethostname()})
    (tmp_path / ".lock").write_text(lock(dead.pid))
    assert fit(small_config(epochs=1), tmp_path).state.epoch == 1
    assert not (tmp_path / ".lock").exists()
    (tmp_path / ".lock").write_text(lock(os.getpid()))  # a live process: this one
    with pytest.raises(ValueError, match="in use by process"):
        fit(small_config(epochs=2), tmp_path, resume=True)


@pytest.mark.slow  # child processes that compile: the slow tier
def test_interrupting_a_long_simulation_keeps_the_previous_outputs(tmp_path):
    out = tmp_path / "sim"
    first = run_cli("simulate", "--steps", "300", "--out", str(out))
    assert first.returncode == 0, first.stderr
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.Popen(
        [*RNN_DYN, "simulate", "--steps", "400000000", "--out", str(out)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(8)  # past the imports, inside the scan
    assert proc.poll() is None
    start = time.monotonic()
    proc.send_signal(signal.SIGINT)
    stderr = proc.communicate(timeout=10)[1]
    assert proc.returncode == 130 and time.monotonic() - start < 5
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.slow  # child processes that compile: the slow tier
def test_a_diverging_run_is_reported_in_strict_json(tmp_path):
    args = [
        "train",
        "sine",
        "--model",
        "rnn",
        "--hidden",
        "8",
        "--seq-len",
        "20",
        "--epochs",
        "2",
        "--n-train",
        "10",
        "--n-val",
        "5",
        "--lr",
        "1e30",
        "--clip",
        "0",
        "--json",
        "--out",
        str(tmp_path / "run"),
    ]
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr

    def no_constants(name):
        raise AssertionError(f"bare {name} in JSON")

    summary = json.loads(result.stdout, parse_constant=no_constants)
    assert summary["final"]["train_loss"] is None  # non-finite, written as null
    assert not np.isfinite(Run(tmp_path / "run").history()[-1]["train_loss"])
    smooth = run_cli(
        "smoothness",
        "--radius",
        "1e30",
        "--no-plot",
        "--json",
        "--out",
        str(tmp_path / "s"),
    )
    assert smooth.returncode == 0, smooth.stderr
    growth = json.loads(smooth.stdout, parse_constant=no_constants)["growth_L_V"]
    assert growth["kind"] == "undetermined" and growth["nonfinite"] > 0
    text = (tmp_path / "s" / "smoothness.json").read_text()
    json.loads(text, parse_constant=no_constants)


def test_resume_refuses_fewer_epochs_a_bad_history_and_another_corpus(tmp_path):
    fit(small_config(epochs=2), tmp_path / "a")
    with pytest.raises(ValueError, match="has done 2 epochs"):
        fit(small_config(epochs=1), tmp_path / "a", resume=True)
    history = tmp_path / "a" / "history.csv"
    lines = history.read_text().splitlines()
    history.write_text("\n".join([*lines[:2], lines[1]]) + "\n")  # epoch 1 twice
    with pytest.raises(ValueError, match="one row per epoch"):
        fit(small_config(epochs=3), tmp_path / "a", resume=True)
    root = write_corpus(tmp_path / "c", splits=("valid", "test"))
    config = TrainConfig(
        task="lm",
        data=str(root),
        train_split="valid",
        hidden=4,
        batch_size=3,
        bptt=8,
        epochs=1,
    )
    fit(config, tmp_path / "lm")
    text = (root / "valid.txt").read_text()
    (root / "valid.txt").write_text(text.replace("cat", "cow"))  # same size
    with pytest.raises(ValueError, match="not the text the run started on"):
        fit(dataclasses.replace(config, epochs=2), tmp_path / "lm", resume=True)


def test_edited_run_files_and_changed_flags_are_refused_untouched(tmp_path, capsys):
    run = tmp_path / "run"
    fit(small_config(epochs=1), run)
    resume = ["train", "symbols", "--resume", "--epochs", "2", "--out", str(run)]
    config = json.loads((run / "config.json").read_text())
    cases = [  # (file, its new text or None to keep it, extra flags, message)
        (None, None, ["--hidden", "5"], "--hidden 5 differs from the run's 8"),
        (None, None, ["--lr", "0.5"], "--lr 0.5 differs from the run's 0.02"),
        # the parser's default, typed: still a flag given, still refused
        (None, None, ["--lr", "0.001"], "--lr 0.001 differs from the run's 0.02"),
        ("config.json", {**config, "hidden": 9}, [], "does not fit"),
        ("config.json", {**config, "hidden": "four"}, [], "hidden must be int"),
        ("config.json", {**config, "lr": None}, [], "lr must be float, got None"),
        (
            "history.csv",
            "epoch,seed,train_loss\n1,0,0.3\n",
            [],
            "history.csv: it has no column train_acc, val_loss",
        ),
    ]
    for name, text, flags, message in cases:
        if name is not None:
            text = json.dumps(text) if name.endswith(".json") else text
            original = (run / name).read_text()
            (run / name).write_text(text)
        before = snapshot(run)
        err = cli_error(capsys, [*resume, *flags])
        assert len(err.strip().splitlines()) == 1 and message in err, err
        assert snapshot(run) == before, message
        if name == "history.csv":
            assert message in cli_error(capsys, ["history", str(run)])
        if name is not None:
            (run / name).write_text(original)
    # a lock naming no possible process is stale (not an OverflowError, and
    # not pid 0 or -1, which os.kill reads as a process group or every process)
    for pid in (10**30, 0, -1):
        lock = {"pid": pid, "host": socket.gethostname()}
        (run / ".lock").write_text(json.dumps(lock))
        assert main(["history", str(run)]) == 0, pid  # into RUN: checks the lock


def test_outputs_get_the_umask_mode_and_no_temporary_files(tmp_path):
    old = os.umask(0o022)
    try:
        rd.save_params(tmp_path / "p.npz", {"w": np.ones(2)})
    finally:
        os.umask(old)
    assert (tmp_path / "p.npz").stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["p.npz"]
