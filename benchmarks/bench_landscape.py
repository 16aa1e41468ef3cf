"""Grid points per second on the chaotic LSTM plane, against PyTorch.

The plane of Supplementary Fig. 1 as the authors' script builds it: s1 has 150
values in [0, 2] plus 0 and 1, s2 150 values in [-0.5, 0.5] plus 0, so
152 × 151 = 22,952 points of 200 steps each (MSE after a burn-in of 100).

Cases, each one JSON line:

- ``jax``: `rnn_dyn.landscape.evaluate` with its default layout (``auto``: the
  points on the last axis, stepped elementwise, for this 16-parameter cell),
  chunked and sharded over the host devices (``--host-devices N`` sets
  ``XLA_FLAGS`` before JAX starts);
- ``jax_vmap``: the same with ``layout="vmap"`` (`jax.vmap` over the points);
- ``torch_loop``: the authors' approach, one ``nn.LSTM`` call per point in a
  Python loop (timed on a subset, reported per point);
- ``torch_batched``: the fastest plain PyTorch we know: the points on the last
  axis (weights `(8, 2, G)`, states `(2, G)`), the 8×2 product as two
  multiply-adds (``torch.addcmul``), every gate elementwise over G, a Python
  loop over time, no autograd, the loss accumulated in place;
- ``torch_compiled``: ``torch_batched`` through ``torch.compile`` (Inductor,
  the 200 steps traced into one graph and fused into C++ loops; it compiles
  for about 3.5 minutes on 2 cores; skipped with ``--quick``), the fastest
  PyTorch measured;
- ``torch_batched_major``: the points first (`(G, 8, 2)`), as this benchmark
  had it before: kept to show what the layout is worth to PyTorch too;
- ``bound``: XLA's own throughput for the 10 sigmoid/tanh per point and step
  (``bound``: points last, the layout XLA vectorises best; ``bound_major``:
  points first), an upper bound for any implementation built on them;
- ``layouts``: ``jax`` against ``jax_vmap`` for LSTM(1, H, readout=1) with
  H = 2 ... 32 on a random plane of 20,000 points (6,000 for H >= 16): where
  `rnn_dyn.landscape.MINOR_MAX_PARAMS` comes from;
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


def case_jax(coords, repeat: int, chunk: int | None, dtype: str, layout: str) -> dict:
    from rnn_dyn import landscape as ls

    model, _, x0, us, ys, plane, _ = problem(dtype)
    kw = dict(burn_in=BURN_IN, chunk_size=chunk, layout=layout)
    runs = [
        ls.evaluate(model, plane, coords, x0, us, ys, **kw) for _ in range(repeat + 1)
    ]
    best = min(r.run_seconds for r in runs[1:])
    return {
        "compile_s": runs[0].compile_seconds,
        "min_s": best,
        "points_per_s": len(coords) / best,
        "chunk_size": chunk,
        "layout": runs[0].layout,
        "_loss": runs[-1].loss,
    }


def case_layouts(repeat: int, quick: bool) -> list[dict]:
    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax.flatten_util import ravel_pytree

    import rnn_dyn as rd
    from rnn_dyn import landscape as ls

    out = []
    for hidden in (2,) if quick else (2, 4, 8, 16, 32):
        model = rd.models.lstm(1, hidden, readout=1)
        theta = model.init(jax.random.key(0), dtype=jnp.float32)
        x0 = model.initial_state(theta)
        us = jax.random.normal(jax.random.key(1), (N_STEPS, 1), jnp.float32)
        ys = ls.reference_outputs(model, theta, x0, us, layout="vmap")
        plane = ls.plane_subspace(*ls.paper_plane(theta, jax.random.key(2))[:3])
        n = 200 if quick else 20000 if hidden <= 8 else 6000
        grid = ls.Grid((np.linspace(0, 2, n // 100), np.linspace(-0.5, 0.5, 100)))
        rates = {}
        for layout in ("vmap", "minor"):
            kw = dict(burn_in=BURN_IN, layout=layout)
            runs = [
                ls.evaluate(model, plane, grid, x0, us, ys, **kw)
                for _ in range(repeat + 1)
            ]
            rates[layout] = len(grid) / min(r.run_seconds for r in runs[1:])
        out.append(
            {
                "hidden": hidden,
                "params": int(ravel_pytree(theta)[0].size),
                "points": len(grid),
                "vmap_points_per_s": rates["vmap"],
                "minor_points_per_s": rates["minor"],
                "minor_over_vmap": rates["minor"] / rates["vmap"],
                "auto": ls.resolve_layout(model, theta),
            }
        )
    return out


def _torch_weights(coords, dtype: str):
    """The (G, 8, 2) recurrent weights of every point, points first."""
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


def torch_batched_loss(weights, target):
    """V at every point, the points on the last axis: the fastest PyTorch we know.

    ``weights`` is `(8, 2, G)`. The 8×2 product is two multiply-adds over G
    (``torch.addcmul``), the gates are row slices of the `(8, G)`
    pre-activation, and everything is elementwise over the contiguous last
    axis, which PyTorch's CPU kernels vectorise; the loss is accumulated in
    place after the burn-in (no `(G, N, 2)` outputs).
    """
    import torch

    w0, w1 = weights[:, 0].contiguous(), weights[:, 1].contiguous()
    g = weights.shape[-1]
    h = torch.full((2, g), 0.5, dtype=weights.dtype)
    c = torch.full((2, g), 0.5, dtype=weights.dtype)
    total = torch.zeros(g, dtype=weights.dtype)
    for t in range(N_STEPS):
        z = torch.addcmul(w0 * h[0], w1, h[1])
        gates = torch.sigmoid(z)  # i, f, o (g's rows are recomputed as tanh)
        c = torch.addcmul(gates[2:4] * c, gates[0:2], torch.tanh(z[4:6]))
        h = gates[6:8] * torch.tanh(c)
        if t >= BURN_IN:
            d = h - target[t][:, None]
            total += (d * d).sum(0)
    return total / (N_STEPS - BURN_IN)


def torch_batched_major_loss(weights, target):
    """The same with the points first, `(G, 8, 2)`: the layout of `jax.vmap`."""
    import torch

    b = weights.shape[0]
    w0, w1 = weights[:, :, 0].contiguous(), weights[:, :, 1].contiguous()
    h = torch.full((b, 2), 0.5, dtype=weights.dtype)
    c = torch.full((b, 2), 0.5, dtype=weights.dtype)
    outputs = []
    for _ in range(N_STEPS):
        z = torch.addcmul(w0 * h[:, :1], w1, h[:, 1:])
        i, f, g, o = z.split(2, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        outputs.append(h)
    out = torch.stack(outputs, 1)  # (B, N, 2): h_{t+1}, as rnn_dyn's outputs
    return ((out[:, BURN_IN:] - target[BURN_IN:]) ** 2).sum(-1).mean(-1)


def case_torch_batched(
    coords, repeat: int, dtype: str, reference, major: bool, compiled: bool = False
):
    import numpy as np
    import torch

    torch_dtype = getattr(torch, dtype)
    weights = _torch_weights(coords, dtype).to(torch_dtype)
    if not major:
        weights = weights.permute(1, 2, 0).contiguous()  # (8, 2, G)
    # The same targets as the jax case (its trajectory at θ_true), so the losses
    # are comparable where the dynamics is not chaotic.
    target = torch.tensor(np.asarray(problem(dtype)[4]), dtype=torch_dtype)
    loss_fn = torch_batched_major_loss if major else torch_batched_loss
    if compiled:  # the first call, left out of the minimum, compiles
        loss_fn = torch.compile(loss_fn, dynamic=False)
    times = []
    with torch.no_grad():
        for _ in range(repeat + 1):
            start = time.perf_counter()
            loss = loss_fn(weights, target)
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


def case_bound(n_points: int, repeat: int, dtype: str, minor: bool) -> dict:
    import jax
    import jax.numpy as jnp
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    # Per point and step the LSTM evaluates 6 sigmoids (i, f, o) and 4 tanh
    # (g, c). Time exactly that many, elementwise, sharded over the devices as
    # the grid is, with nothing else: a bound for any evaluator built on them.
    # ``minor`` puts the points on the last axis, `(10, G)`, as the minor layout.
    mesh = Mesh(jax.devices(), ("points",))
    spec = PartitionSpec(None, "points") if minor else PartitionSpec("points")
    n = -(-n_points // len(jax.devices())) * len(jax.devices())
    z = jnp.linspace(-3, 3, n * 10, dtype=dtype)
    z = jax.device_put(
        z.reshape((10, n) if minor else (n, 10)), NamedSharding(mesh, spec)
    )

    @jax.jit
    def fn(z):
        if minor:  # ten rows of G points, each its own array: the fastest we found

            def step(rows, _):
                sig = tuple(jax.nn.sigmoid(r) for r in rows[:6])
                return sig + tuple(jnp.tanh(r) for r in rows[6:]), None

            return jnp.stack(jax.lax.scan(step, tuple(z), None, length=N_STEPS)[0])

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
    # The child's own peak, VmHWM: getrusage's ru_maxrss survives exec, so it
    # reported this process's peak (with PyTorch loaded: 1.3 GiB) instead.
    code = (
        "import sys, numpy as np\n"
        f"sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})\n"
        "from bench_landscape import problem\n"
        "from rnn_dyn import landscape as ls\n"
        f"model, _, x0, us, ys, plane, _ = problem({dtype!r})\n"
        f"s1 = np.linspace(0, 2, {n}); s2 = np.linspace(-0.5, 0.5, {n})\n"
        "c = np.stack(np.meshgrid(s1, s2, indexing='ij'), -1).reshape(-1, 2)\n"
        "r = ls.evaluate(model, plane, c, x0, us, ys, burn_in=100,"
        f" chunk_size={chunk})\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')]\n"
        "print(int(hwm[0].split()[1]) * 1024, r.run_seconds)\n"
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


CASES = (
    "jax,jax_vmap,torch_loop,torch_batched,torch_compiled,torch_batched_major,"
    "bound,bound_major,layouts,memory_1000x1000"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--host-devices", type=int, default=2)
    parser.add_argument(
        "--chunk-size", type=int, default=None, help="default: evaluate's, by layout"
    )
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--loop-points", type=int, default=300)
    parser.add_argument(
        "--torch-threads", type=int, default=None, help="default: PyTorch's own"
    )
    parser.add_argument("--cases", default=CASES)
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
    rates = {}

    def record(name, result, repeats, extra=None):
        rates[name] = result.get("points_per_s")
        emit(base | (extra or {}) | _record(name, result, repeats))

    reference = None
    for name, layout in (("jax", "auto"), ("jax_vmap", "vmap")):
        if name in cases:
            result = case_jax(coords, repeat, args.chunk_size, args.dtype, layout)
            reference = result.pop("_loss")
            record(name, result, repeat)
    try:
        import torch
    except ImportError:
        torch = None
    torch_cases = (
        "torch_loop",
        "torch_batched",
        "torch_compiled",
        "torch_batched_major",
    )
    for name in torch_cases:
        if name not in cases:
            continue
        reason = "no torch" if torch is None else None
        if name == "torch_compiled" and args.quick:
            reason = "--quick: torch.compile takes minutes"
        if reason:
            emit(base | {"method": name, "status": "skipped", "reason": reason})
            continue
        if args.torch_threads:
            torch.set_num_threads(args.torch_threads)
        extra = {"torch_version": torch.__version__}
        if name == "torch_loop":
            n = min(args.loop_points, 20 if args.quick else args.loop_points)
            record(name, case_torch_loop(coords, n, args.dtype), 1, extra)
        else:
            if reference is None:
                raise SystemExit(f"{name} compares against the jax case: add it")
            major, compiled = name == "torch_batched_major", name == "torch_compiled"
            result = case_torch_batched(
                coords, repeat, args.dtype, reference, major, compiled
            )
            record(name, result, repeat, extra)
    for name in ("bound", "bound_major"):
        if name in cases:
            result = case_bound(len(coords), repeat + 2, args.dtype, name == "bound")
            record(name, result, repeat + 2)
    if "layouts" in cases:
        for result in case_layouts(repeat, args.quick):
            result["points_per_s"] = result["minor_points_per_s"]
            emit(base | _record("layouts", result, repeat))
    if "memory_1000x1000" in cases:
        n = 100 if args.quick else 1000
        result = case_memory(n, args.chunk_size, args.dtype)
        record("memory_1000x1000", result, 1)
    ratio = lambda a, b: rates[a] / rates[b] if rates.get(a) and rates.get(b) else None
    emit(
        base
        | {
            "kind": "summary",
            "jax_over_torch_batched": ratio("jax", "torch_batched"),
            "jax_over_torch_compiled": ratio("jax", "torch_compiled"),
            "jax_over_jax_vmap": ratio("jax", "jax_vmap"),
            "bound_over_jax": ratio("bound", "jax"),
            "jax_over_torch_loop": ratio("jax", "torch_loop"),
        }
    )


if __name__ == "__main__":
    main()
