import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import rnn_dyn as rd
from rnn_dyn.cli import main


def run_cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "rnn_dyn", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "MPLBACKEND": "Agg", **(env or {})},
        timeout=300,
    )


def test_help_does_not_import_jax():
    code = (
        "import sys\nfrom rnn_dyn.cli import main\n"
        "try: main(['--help'])\nexcept SystemExit: pass\n"
        "print('jax' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_simulate_writes_trajectory_and_figure(tmp_path):
    out = tmp_path / "sim"
    result = run_cli(
        "simulate",
        "--system",
        "chaotic-lstm",
        "--steps",
        "300",
        "--burn-in",
        "50",
        "--out",
        str(out),
        "--json",
        "--x64",
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["system"] == "chaotic-lstm" and summary["variant"] == "authors"
    assert summary["dtype"] == "float64" and summary["nonfinite_steps"] == 0
    data = np.load(out / "trajectory.npz")
    assert data["states"].shape == (300, 4) and data["outputs"].shape == (300, 2)
    # The file holds the library's trajectory, not something else.
    model, params, x0 = rd.examples.chaotic_lstm("authors")
    import jax
    import jax.numpy as jnp

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
        "simulate",
        "--system",
        "logistic",
        "--r",
        "4.5",
        "--steps",
        "200",
        "--burn-in",
        "0",
        "--out",
        str(tmp_path),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["nonfinite_steps"] > 0
    states = np.load(tmp_path / "trajectory.npz")["states"]
    assert summary["nonfinite_steps"] == int((~np.isfinite(states)).any(axis=1).sum())


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
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_flags_exit_2_with_one_line(args, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        code = main(
            [*args, "--out", str(tmp_path / "x")] if args[0] == "simulate" else args
        )
        raise SystemExit(code)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err
    assert not (tmp_path / "x").exists() or not any((tmp_path / "x").iterdir())


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


def test_module_and_script_entry_points_agree():
    result = run_cli("--help")
    assert result.returncode == 0 and "simulate" in result.stdout
    script = Path(sys.executable).with_name("rnn-dyn")
    if script.exists():
        out = subprocess.run([str(script), "--help"], capture_output=True, text=True)
        assert out.returncode == 0 and out.stdout == result.stdout


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
        "chaotic-lstm",
        "--line",
        "60",
        "--grid",
        "12,9",
        "--out",
        str(out),
        "--json",
        "--quiet",
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
    import jax

    save_params(tmp_path / "p.npz", model.init(jax.random.key(0)))
    out = tmp_path / "ls"
    result = run_cli(
        "landscape",
        "--model",
        "logistic",
        "--params",
        str(tmp_path / "p.npz"),
        "--s-range",
        "0.5,1.5",
        "--line",
        "40",
        "--grid",
        "8",
        "--seq-len",
        "50",
        "--burn-in",
        "10",
        "--out",
        str(out),
        "--json",
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


@pytest.mark.parametrize(
    "args, message",
    [
        (["chaotic-lstm", "--line", "-5"], "--line: expected an integer >= 2"),
        (["chaotic-lstm", "--grid", "0"], "--grid: expected N or N1,N2"),
        (["chaotic-lstm", "--grid", "3,4,5"], "--grid: expected N or N1,N2"),
        (["chaotic-lstm", "--s-range", "2,0.5"], "--s-range: expected finite LOW,HIGH"),
        (["chaotic-lstm", "--s2-range", "x"], "--s2-range: expected finite LOW,HIGH"),
        (["chaotic-lstm", "--variant", "typo"], "invalid choice: 'typo'"),
        (["chaotic-lstm", "--seq-len", "50"], "--burn-in must be below --seq-len"),
        (["landscape", "--model", "transformer"], "invalid choice: 'transformer'"),
        (["landscape", "--params", "/nonexistent.npz"], "cannot read params file"),
    ],
)
def test_landscape_bad_flags_exit_2_without_files(args, message, capsys, tmp_path):
    out = tmp_path / "x"
    with pytest.raises(SystemExit) as exc:
        raise SystemExit(main([*args, "--out", str(out)]))
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err
    assert not out.exists() or not any(out.iterdir())


def test_chaotic_lstm_unwritable_out_exits_2(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_cli(
        "chaotic-lstm", "--line", "5", "--grid", "3", "--out", str(blocker)
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
