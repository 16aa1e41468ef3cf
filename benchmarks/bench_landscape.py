"""Grid points per second on the chaotic LSTM plane, against PyTorch.

The plane of Supplementary Fig. 1 as the authors' script builds it: s1 has 150
values in [0, 2] plus 0 and 1, s2 150 values in [-0.5, 0.5] plus 0, so
152 × 151 = 22,952 points of 200 steps each (MSE after a burn-in of 100).

Cases, each one JSON line:

- ``jax``: `rnn_dyn.landscape.evaluate`, chunked and sharded over the host
  devices (``--host-devices N`` sets ``XLA_FLAGS`` before JAX starts);
- ``torch_loop``: the authors' approach, one ``nn.LSTM`` call per point in a
  Python loop (timed on a subset, reported per point);
- ``torch_batched``: the best plain PyTorch: every point as one batch of
  independent 2-unit cells, stepped in a Python loop over time
  (``torch.func.vmap`` over ``nn.LSTM`` fails: no batching rule for ``aten::lstm``);
- ``bound``: XLA's own throughput for the 10 sigmoid/tanh per point and step,
  an upper bound for any implementation built on them;
- ``memory_1000x1000``: peak RSS of a child process evaluating a 1000 × 1000
  plane (``--quick``: 100 × 100).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

N_STEPS, BURN_IN = 200, 100


def authors_plane(n1: int = 150, n2: int = 150):
    import numpy as np

    s1 = np.sort(np.append(np.linspace(0, 2, n1), [0.0, 1.0]))
    s2 = np.sort(np.append(np.linspace(-0.5, 0.5, n2), 0.0))
    return np.stack(np.meshgrid(s1, s2, indexing="ij"), axis=-1).reshape(-1, 2)


def problem(dtype: str):
    import jax
    import jax.numpy as jnp

    from rnn_dyn import landscape as ls
    from rnn_dyn.examples import chaotic_lstm

    model, theta, x0 = chaotic_lstm("authors", dtype=dtype)
    us = jnp.zeros((N_STEPS, 0), dtype)
    ys = ls.reference_outputs(model, theta, x0, us)
    zero = jax.tree_util.tree_map(jnp.zeros_like, theta)
    rnd = ls.random_direction(jax.random.key(0), theta)
    return model, theta, x0, us, ys, ls.plane_subspace(zero, theta, rnd), rnd


def case_jax(coords, repeat: int, chunk: int, dtype: str) -> dict:
    from rnn_dyn import landscape as ls

    model, _, x0, us, ys, plane, _ = problem(dtype)
    runs = [
        ls.evaluate(model, plane, coords, x0, us, ys, burn_in=BURN_IN, chunk_size=chunk)
        for _ in range(repeat + 1)
    ]
    best = min(r.run_seconds for r in runs[1:])
    return {
        "compile_s": runs[0].compile_seconds,
        "min_s": best,
        "points_per_s": len(coords) / best,
        "chunk_size": chunk,
        "_loss": runs[-1].loss,
    }


def _torch_weights(coords, dtype: str):
    import numpy as np
    import torch

    _, theta, _, _, _, _, rnd = problem(dtype)
    w_true = torch.tensor(np.asarray(theta.weight_hh))
    w_rnd = torch.tensor(np.asarray(rnd.weight_hh))
    c = torch.tensor(
        np.asarray(coords, dtype=np.float32 if dtype == "float32" else None)
    )
    return c[:, :1, None] * w_true + c[:, 1:, None] * w_rnd  # (B, 8, 2)


def case_torch_loop(coords, n_points: int, dtype: str) -> dict:
    import torch

    torch_dtype = getattr(torch, dtype)
    weights = _torch_weights(coords[:n_points], dtype).to(torch_dtype)
    lstm = torch.nn.LSTM(input_size=1, hidden_size=2, bias=False).to(torch_dtype)
    inputs = torch.zeros((N_STEPS, 1, 1), dtype=torch_dtype)
    state = (torch.full((1, 1, 2), 0.5, dtype=torch_dtype),) * 2
    with torch.no_grad():
        lstm.weight_ih_l0.zero_()
        target, _ = lstm(inputs, state)  # overwritten below; shapes only
        start = time.perf_counter()
        for w in weights:
            lstm.weight_hh_l0.copy_(w)
            out, _ = lstm(inputs, state)
            torch.nn.functional.mse_loss(out[BURN_IN:], target[BURN_IN:])
        elapsed = time.perf_counter() - start
    return {"points": n_points, "min_s": elapsed, "points_per_s": n_points / elapsed}


def torch_batched_loss(weights, dtype):
    """Step all points at once; the 8×2 matrix-vector products as two AXPYs.

    For a 2-unit cell, two broadcast multiply-adds beat ``torch.bmm`` on tiny
    matrices several times over on this CPU: the best plain PyTorch we found.
    """
    import torch

    b = weights.shape[0]
    w0, w1 = weights[:, :, 0].contiguous(), weights[:, :, 1].contiguous()
    h = torch.full((b, 2), 0.5, dtype=dtype)
    c = torch.full((b, 2), 0.5, dtype=dtype)
    outputs = []
    for _ in range(N_STEPS):
        z = torch.addcmul(w0 * h[:, :1], w1, h[:, 1:])
        i, f, g, o = z.split(2, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        outputs.append(h)
    return torch.stack(outputs, 1)  # (B, N, 2): h_{t+1}, as rnn_dyn's outputs


def case_torch_batched(coords, repeat: int, dtype: str, reference) -> dict:
    import numpy as np
    import torch

    torch_dtype = getattr(torch, dtype)
    weights = _torch_weights(coords, dtype).to(torch_dtype)
    # The same targets as the jax case (its trajectory at θ_true), so the losses
    # are comparable where the dynamics is not chaotic.
    target = torch.tensor(np.asarray(problem(dtype)[4]), dtype=torch_dtype)
    times = []
    with torch.no_grad():
        for _ in range(repeat + 1):
            start = time.perf_counter()
            out = torch_batched_loss(weights, torch_dtype)
            loss = ((out[:, BURN_IN:] - target[BURN_IN:]) ** 2).sum(-1).mean(-1)
            times.append(time.perf_counter() - start)
    best = min(times[1:])
    loss = loss.numpy()
    # Where the model is chaotic (s1 above about 0.9), float32 rounding
    # differences grow to O(1) in 200 steps; compare where it is not.
    calm = (coords[:, 0] < 0.85) & np.isfinite(loss) & np.isfinite(reference)
    return {
        "min_s": best,
        "points_per_s": len(coords) / best,
        "torch_threads": torch.get_num_threads(),
        "max_rel_diff_vs_jax_nonchaotic": float(
            np.max(np.abs(loss - reference)[calm] / np.abs(reference[calm]))
        ),
    }


def case_bound(n_points: int, repeat: int, dtype: str) -> dict:
    import jax
    import jax.numpy as jnp
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    # Per point and step the LSTM evaluates 6 sigmoids (i, f, o) and 4 tanh
    # (g, c). Time exactly that many, elementwise, sharded over the devices as
    # the grid is, with nothing else: a bound for any evaluator built on them.
    mesh = Mesh(jax.devices(), ("points",))
    shard = NamedSharding(mesh, PartitionSpec("points"))
    n = -(-n_points // len(jax.devices())) * len(jax.devices())
    z = jax.device_put(jnp.linspace(-3, 3, n * 10, dtype=dtype).reshape(n, 10), shard)

    @jax.jit
    def fn(z):
        def step(z, _):
            return jnp.concatenate(
                [jax.nn.sigmoid(z[:, :6]), jnp.tanh(z[:, 6:])], 1
            ), None

        return jax.lax.scan(step, z, None, length=N_STEPS)[0]

    fn(z).block_until_ready()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn(z).block_until_ready()
        best = min(best, time.perf_counter() - start)
    return {"min_s": best, "points_per_s": n / best}


def case_memory(n: int, chunk: int, dtype: str) -> dict:
    code = (
        "import resource, sys, numpy as np\n"
        "sys.path.insert(0, 'benchmarks')\n"
        "from bench_landscape import problem\n"
        "from rnn_dyn import landscape as ls\n"
        f"model, _, x0, us, ys, plane, _ = problem({dtype!r})\n"
        f"s1 = np.linspace(0, 2, {n}); s2 = np.linspace(-0.5, 0.5, {n})\n"
        "c = np.stack(np.meshgrid(s1, s2, indexing='ij'), -1).reshape(-1, 2)\n"
        "r = ls.evaluate(model, plane, c, x0, us, ys, burn_in=100,"
        f" chunk_size={chunk})\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,"
        " r.run_seconds)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    rss, seconds = out.stdout.split()
    return {"grid": f"{n}x{n}", "peak_rss_bytes": int(rss), "run_s": float(seconds)}


def _record(method: str, result: dict, repeats: int) -> dict:
    run_s = result.get("min_s", result.get("run_s"))
    if run_s is None and "points_per_s" in result:
        run_s = 1 / result["points_per_s"]
    return {
        "method": method,
        "status": "ok",
        "run_s": run_s,
        "repeats": repeats,
        "peak_bytes": result.get("peak_rss_bytes"),
    } | result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--host-devices", type=int, default=2)
    parser.add_argument("--chunk-size", type=int, default=8192)
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--loop-points", type=int, default=300)
    parser.add_argument(
        "--cases", default="jax,torch_loop,torch_batched,bound,memory_1000x1000"
    )
    args = parser.parse_args()
    if args.host_devices > 1 and "host_platform_device_count" not in os.environ.get(
        "XLA_FLAGS", ""
    ):
        os.environ["XLA_FLAGS"] = (
            os.environ.get("XLA_FLAGS", "")
            + f" --xla_force_host_platform_device_count={args.host_devices}"
        ).strip()
    import jax

    if args.dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    from _timing import cpu_model, emit, environment

    coords = authors_plane(10, 10) if args.quick else authors_plane()
    repeat = 1 if args.quick else args.repeat
    base = environment() | {"cpu": cpu_model(), "dtype": args.dtype, "kind": "case"}
    base["points"] = len(coords)
    cases = args.cases.split(",")
    reference = None
    if "jax" in cases:
        result = case_jax(coords, repeat, args.chunk_size, args.dtype)
        reference = result.pop("_loss")
        emit(base | _record("jax", result, repeat))
    try:
        import torch
    except ImportError:
        torch = None
    for name in ("torch_loop", "torch_batched"):
        if name not in cases:
            continue
        if torch is None:
            emit(base | {"method": name, "status": "skipped", "reason": "no torch"})
            continue
        base_t = base | {"torch_version": torch.__version__}
        if name == "torch_loop":
            n = min(args.loop_points, 20 if args.quick else args.loop_points)
            emit(base_t | _record(name, case_torch_loop(coords, n, args.dtype), 1))
        else:
            if reference is None:
                raise SystemExit("torch_batched compares against the jax case: add it")
            result = case_torch_batched(coords, repeat, args.dtype, reference)
            emit(base_t | _record(name, result, repeat))
    if "bound" in cases:
        result = case_bound(len(coords), repeat + 2, args.dtype)
        emit(base | _record("bound", result, repeat + 2))
    if "memory_1000x1000" in cases:
        n = 100 if args.quick else 1000
        result = case_memory(n, args.chunk_size, args.dtype)
        emit(base | _record("memory_1000x1000", result, 1))


if __name__ == "__main__":
    main()
