r"""Cost landscapes: V evaluated on lines and planes of parameter space.

A line is θ(s) = s·θ_a + (1 - s)·θ_b and a plane is
θ(s₁, s₂) = θ_o + s₁(θ_a - θ_o) + s₂(θ_b - θ_o); the paper's plane
s₁θ_true + s₂θ_random is the plane with θ_o = 0. Both are an `Affine`
subspace, an origin plus k stacked directions.

Every point of a grid is one independent simulation, so the grid is
embarrassingly parallel: points are evaluated by `jax.vmap` under `jit`, in
chunks of bounded size (memory does not grow with the grid), and each chunk is
sharded over a 1-D `jax.sharding.Mesh` of all devices (the chunk is padded to
a multiple of the device count). The same code runs on CPU, GPU and TPU, and
over several hosts after ``jax.distributed.initialize()``, where
``jax.devices()`` lists the devices of every host. Non-finite costs (overflow
in chaotic regions) are kept as NaN/inf.
"""

from __future__ import annotations

import dataclasses
import functools as ft
import itertools
import math
import sys
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jaxtyping import Array, ArrayLike, Float

from ._losses import LossFn
from ._simulate import _rollout, check_cost_args
from ._types import Inputs, Key, Params, State, Targets
from ._validate import check_memory, check_params, promote
from .models._base import GridMinor, Model


class Affine(NamedTuple):
    """An affine subspace θ(s) = origin + Σ_i s_i·directions[i] of parameter space.

    Attributes:
        origin: θ at s = 0, a params pytree.
        directions: k directions, a params pytree whose leaves have a leading
            axis of size k.
    """

    origin: Params
    directions: Params


class Landscape(NamedTuple):
    """Cost (and optionally steady-state outputs) on a grid of coordinates.

    Attributes:
        axes: The coordinate values along each axis: ``(s,)`` for a line,
            ``(s1, s2)`` for a plane.
        loss: V at every grid point, shape `(n,)` or `(n1, n2)`; NaN or inf
            where the simulation overflowed.
        steady: The last K outputs at every point, shape `(n, K, p)` or
            `(n1, n2, K, p)`, or None when not requested.
        subspace: The `Affine` subspace the coordinates refer to.
        compile_seconds: Time spent compiling the evaluator.
        run_seconds: Time spent evaluating, compilation excluded.
        layout: The layout `evaluate` ran with, ``"vmap"`` or ``"minor"``.
    """

    axes: tuple[np.ndarray, ...]
    loss: np.ndarray
    steady: np.ndarray | None
    subspace: Affine
    compile_seconds: float = 0.0
    run_seconds: float = 0.0
    layout: str = "vmap"


@dataclasses.dataclass(frozen=True)
class Grid:
    """Every combination of the values of k axes, as `evaluate`'s coordinates.

    Its points are made chunk by chunk (``grid[start:stop]``, row-major: the
    last axis varies fastest), so a grid's host memory is that of its results,
    not that of its `(b, k)` coordinates.

    Attributes:
        axes: The coordinate values along each axis, 1-D arrays.

    Raises:
        ValueError: If an axis is not 1-D.
    """

    axes: tuple[ArrayLike, ...]

    def __post_init__(self) -> None:  # noqa: D105
        axes = tuple(np.asarray(a) for a in self.axes)
        if any(a.ndim != 1 for a in axes):
            shapes = [a.shape for a in axes]
            raise ValueError(f"grid axes must be 1-D, got shapes {shapes}")
        object.__setattr__(self, "axes", axes)

    def __len__(self) -> int:
        """The number of points, the product of the axes' sizes."""
        return math.prod(a.size for a in self.axes)

    def __getitem__(self, rows: slice) -> np.ndarray:
        """The points ``rows`` (a slice) of the grid, shape `(len(rows), k)`."""
        span = range(len(self))[rows]
        flat = np.arange(span.start, span.stop, span.step)
        index = np.unravel_index(flat, [a.size for a in self.axes])
        return np.stack([a[i] for a, i in zip(self.axes, index, strict=True)], -1)


class Evaluation(NamedTuple):
    """Result of `evaluate`.

    Attributes:
        loss: V at every point, shape `(b,)`.
        steady: The last K outputs at every point, shape `(b, K, p)`, or None.
        compile_seconds: Time spent compiling the evaluator.
        run_seconds: Time spent evaluating, compilation excluded.
        layout: The layout it ran with, ``"vmap"`` or ``"minor"``.
    """

    loss: np.ndarray
    steady: np.ndarray | None
    compile_seconds: float
    run_seconds: float
    layout: str = "vmap"


def _stack(*trees: Params) -> Params:
    return jax.tree_util.tree_map(lambda *a: jnp.stack(a), *trees)


def line_subspace(theta_a: Params, theta_b: Params) -> Affine:
    """Return the line θ(s) = s·θ_a + (1 - s)·θ_b (θ_b at s = 0, θ_a at s = 1)."""
    direction = jax.tree_util.tree_map(jnp.subtract, theta_a, theta_b)
    return Affine(origin=theta_b, directions=_stack(direction))


def plane_subspace(theta_o: Params, theta_a: Params, theta_b: Params) -> Affine:
    """Return the plane θ(s₁, s₂) = θ_o + s₁(θ_a - θ_o) + s₂(θ_b - θ_o)."""
    d_a = jax.tree_util.tree_map(jnp.subtract, theta_a, theta_o)
    d_b = jax.tree_util.tree_map(jnp.subtract, theta_b, theta_o)
    return Affine(origin=theta_o, directions=_stack(d_a, d_b))


class Plane(NamedTuple):
    """A plane θ_o + s₁(θ_a - θ_o) + s₂(θ_b - θ_o) for `grid_2d`, and θ on it.

    Attributes:
        theta_o: θ at (0, 0).
        theta_a: θ at (1, 0).
        theta_b: θ at (0, 1).
        at_theta: The coordinates (s₁, s₂) of the parameters it was built around.
    """

    theta_o: Params
    theta_a: Params
    theta_b: Params
    at_theta: tuple[float, float]


def paper_plane(theta: Params, key: Key, *, distribution: str = "uniform") -> Plane:
    """The paper's plane s₁·θ + s₂·θ_random (Supplementary Fig. 1): θ at (1, 0).

    The origin is θ = 0 and θ_random is drawn with `random_direction`
    (``distribution`` ``"uniform"`` on [0, 1) as the authors' script, or
    ``"gaussian"``).
    """
    zero = jax.tree_util.tree_map(jnp.zeros_like, theta)
    theta_random = random_direction(key, theta, distribution=distribution)
    return Plane(zero, theta, theta_random, (1.0, 0.0))


def centered_plane(theta: Params, key: Key) -> Plane:
    """The plane θ + s₁·d₁ + s₂·d₂ around θ: θ at (0, 0).

    d₁ and d₂ are Gaussian directions, filter-normalised as in Li et al.
    (2018) (`random_direction` with ``filter_normalize=True``), so the plane's
    scale follows the scale of each unit's weights.
    """
    plus = lambda d: jax.tree_util.tree_map(jnp.add, theta, d)
    d1, d2 = (
        random_direction(k, theta, distribution="gaussian", filter_normalize=True)
        for k in jax.random.split(key)
    )
    return Plane(theta, plus(d1), plus(d2), (0.0, 0.0))


def point(subspace: Affine, coords: Float[Array, " k"]) -> Params:
    """Return θ(s) = origin + Σ_i s_i·directions[i] for one coordinate vector."""
    return jax.tree_util.tree_map(
        lambda o, d: o + jnp.tensordot(coords.astype(d.dtype), d, axes=1),
        subspace.origin,
        subspace.directions,
    )


def random_direction(
    key: Key,
    params: Params,
    *,
    distribution: str = "uniform",
    filter_normalize: bool = False,
) -> Params:
    """Draw a random direction shaped like ``params``.

    Args:
        key: PRNG key.
        params: Reference parameters (shapes, dtypes, and the norms used by
            filter normalisation).
        distribution: ``"uniform"`` on [0, 1), as the authors' script
            (``torch.rand``), or ``"gaussian"`` (standard normal).
            (Keyword only.)
        filter_normalize: Rescale each row of every matrix (a unit's incoming
            weights, the RNN analogue of a filter) to the norm of the same row
            of ``params``, and zero the vector and scalar leaves (biases), as in
            Li et al. (2018), "Visualizing the loss landscape of neural nets".
            (Keyword only.)

    Returns:
        A pytree shaped like ``params``.

    Raises:
        ValueError: If ``distribution`` is unknown.
    """
    if distribution not in ("uniform", "gaussian"):
        raise ValueError(
            f"distribution must be 'uniform' or 'gaussian', got {distribution!r}"
        )
    leaves, treedef = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(key, max(len(leaves), 1))
    draw = jax.random.uniform if distribution == "uniform" else jax.random.normal
    out = []
    for k, leaf in zip(keys, leaves, strict=False):
        d = draw(k, jnp.shape(leaf), jnp.result_type(leaf))
        if filter_normalize:
            if jnp.ndim(leaf) >= 2:
                norm = lambda a: jnp.linalg.norm(a, axis=-1, keepdims=True)
                d = d * norm(leaf) / jnp.maximum(norm(d), jnp.finfo(d.dtype).tiny)
            else:
                d = jnp.zeros_like(d)
        out.append(d)
    return jax.tree_util.tree_unflatten(treedef, out)


def _mesh(devices: Sequence[Any] | None) -> Mesh:
    return Mesh(np.array(list(devices or jax.devices())), ("points",))


def _evaluate_minor(
    model, loss_fn, burn_in, steady_steps, coords, subspace, x0, us, ys
):
    """V at b points stepped together, the points on the last axis (`GridMinor`)."""
    # θ at the chunk's points, each leaf's points on its last axis.
    params = jax.vmap(point, in_axes=(None, 0), out_axes=-1)(subspace, coords)
    n_steps, b = us.shape[0], coords.shape[0]
    loss_at = jax.vmap(loss_fn, in_axes=(1, None))
    kept_from = n_steps - steady_steps

    # Step t's input and target come in the carry, loaded one step ahead:
    # sliced from `us` inside the step, the dynamic slice would be fused into
    # the step's elementwise loops, recomputed for every element, and stop XLA
    # vectorising them (7x slower with a 1-D input on CPU).
    #
    # Step t's output is scored and kept one step later, from the carry: a
    # carried value is one buffer, while an output used where it is made may
    # be recomputed inside each of its consumers' fusions with other rounding
    # (the targets of `reference_outputs` then missed V(θ) = 0 by 1e-35 on the
    # chaotic LSTM). Iteration t makes output t and scores output t - 1; one
    # extra iteration at the end flushes the last output. The iterations split
    # where scoring and keeping start, each part one scan.
    ahead = lambda a: jnp.concatenate([a[1:], a[-1:], a[-1:]])
    us_ahead, ys_ahead = ahead(us), ahead(ys)

    def steps(carry, start, stop):
        score, keep = start > burn_in, start > kept_from

        def step(carry, u_y_next):
            x, total, u, y, y_hat_before, y_before = carry
            if score:  # summed in time order, as the vmap layout
                total = total + loss_at(y_hat_before, y_before)
            y_hat = model.g_minor(params, x, u)
            x = model.f_minor(params, x, u)
            carry = (x, total, *u_y_next, y_hat, y)
            return carry, y_hat_before if keep else None

        return jax.lax.scan(step, carry, (us_ahead[start:stop], ys_ahead[start:stop]))

    x = jnp.broadcast_to(x0[:, None], (x0.shape[0], b))
    y_hat = jnp.zeros((model.output_size, b), x0.dtype)
    carry = (x, jnp.zeros((b,), x0.dtype), us[0], ys[0], y_hat, ys[0])
    kept = [jnp.zeros((0, model.output_size, b), x0.dtype)]
    cuts = sorted({0, burn_in + 1, kept_from + 1, n_steps + 1})
    for start, stop in itertools.pairwise(cuts):
        carry, outputs = steps(carry, start, stop)
        if outputs is not None:
            kept.append(outputs)
    steady = jnp.moveaxis(jnp.concatenate(kept), -1, 0)
    return carry[1] / (n_steps - burn_in), steady


LAYOUTS = ("auto", "vmap", "minor")

# The most parameters for which "auto" steps the points on the last axis.
# bench_landscape.py --cases layouts, LSTM(1, H, readout=1) on the 2-core EPYC
# of benchmarks/README.md: the minor layout ran 6.3x faster than vmap at H = 2
# (P = 43), 6.1x at H = 4 (117), 2.0x at H = 8 (361), 1.3x at H = 16 (1,233)
# and 0.78x at H = 32 (4,513).
MINOR_MAX_PARAMS = 2048

# Default chunks. The minor layout streams every array of a chunk through each
# step, so a device's share should fit its cache: on that EPYC the chaotic
# LSTM ran at 700-760k points/s with 16,384 points per device and at 380k
# with 32,768. The vmap layout keeps its outputs, `(chunk, N, p)`.
MINOR_CHUNK = 16384
VMAP_CHUNK = 8192

# In the minor layout each device gets a multiple of this many points. XLA
# steps an array narrower than a vector register (4 float64 or 8 float32 with
# AVX2) with scalar code, whose rounding differs from the vector code's: a
# chunk of 3 float64 points came out unlike the same points in a chunk of 91,
# while chunks of 4 or more agreed bit for bit. 64 is a multiple of the widest
# x86-64 vector (16 float32 with AVX-512) and more than any of them.
MINOR_LANES = 64


def resolve_layout(
    model: Model, params: Params, layout: str = "auto", *, platform: str = "cpu"
) -> str:
    """The layout `evaluate` uses: ``"vmap"`` (points first) or ``"minor"`` (last).

    ``"auto"`` is ``"minor"`` on a CPU (``platform``, keyword only, the
    devices' ``jax.Device.platform``) for a `rnn_dyn.models.GridMinor` model
    with at most `MINOR_MAX_PARAMS` parameters (``params``' size), ``"vmap"``
    otherwise: on GPUs the minor layout has not been measured yet, and the vmap
    layout runs within 1.16x of its bound there (benchmarks/README.md).

    Raises:
        ValueError: If ``layout`` is not one of `LAYOUTS`, or is ``"minor"`` for
            a model that is not `GridMinor`.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    minor = isinstance(model, GridMinor)
    if layout == "minor" and not minor:
        name = type(model).__name__
        raise ValueError(f"layout 'minor' needs a GridMinor model, got {name}")
    if layout == "auto":
        size = sum(np.size(leaf) for leaf in jax.tree_util.tree_leaves(params))
        small = size <= MINOR_MAX_PARAMS
        return "minor" if minor and small and platform == "cpu" else "vmap"
    return layout


@ft.lru_cache(maxsize=64)
def _kernel(
    model: Model,
    loss_fn: LossFn,
    burn_in: int,
    steady_steps: int,
    mesh: Mesh,
    layout: str,
):
    """Compile-once evaluator of a chunk of coordinates, sharded over ``mesh``."""
    points = NamedSharding(mesh, PartitionSpec("points"))
    replicated = NamedSharding(mesh, PartitionSpec())

    def one(coords, subspace, x0, us, ys):
        outputs = _rollout(model, point(subspace, coords), x0, us).outputs

        # The cost is summed step by step by a scan, in time order, rather than
        # by a reduction: XLA may vectorise a reduction differently for each
        # chunk size, and this keeps every point's value bit-for-bit the same
        # however the grid is chunked or sharded.
        def accumulate(total, pair):
            return total + loss_fn(*pair), None

        zero = jnp.zeros((), outputs.dtype)
        total, _ = jax.lax.scan(accumulate, zero, (outputs[burn_in:], ys[burn_in:]))
        loss = total / (outputs.shape[0] - burn_in)
        return loss, outputs[outputs.shape[0] - steady_steps :]

    if layout == "minor":
        batched = ft.partial(_evaluate_minor, model, loss_fn, burn_in, steady_steps)
    else:
        batched = jax.vmap(one, in_axes=(0, None, None, None, None))
    return jax.jit(
        batched,
        in_shardings=(points, replicated, replicated, replicated, replicated),
        out_shardings=(points, points),
    )


@ft.lru_cache(maxsize=64)
def _compile(kernel: Any, avals: Any) -> Any:
    """Compile ``kernel`` once per argument shapes (AOT, so it can be timed)."""
    return kernel.lower(*avals).compile()


def evaluate(
    model: Model,
    subspace: Affine,
    coords: Float[ArrayLike, "b k"] | Grid,
    x0: State,
    us: Inputs,
    ys: Targets,
    *,
    loss: str | LossFn = "mse",
    burn_in: int = 0,
    steady_steps: int = 0,
    chunk_size: int | None = None,
    devices: Sequence[Any] | None = None,
    layout: str = "auto",
    progress: bool = False,
) -> Evaluation:
    """Evaluate V(θ(s)) at many coordinate vectors s, chunked and sharded.

    Args:
        model: The model.
        subspace: The `Affine` subspace the coordinates refer to.
        coords: Coordinates, shape `(b, k)`, or a `Grid` of b points (made
            chunk by chunk).
        x0: Initial state, shape `(n,)`, shared by every point.
        us: Inputs, shape `(N, m)`, shared by every point.
        ys: Targets of the cost, shape `(N, p)` (or `(N,)` classes).
        loss: Per-step loss, as in `rnn_dyn.cost`. (Keyword only.)
        burn_in: Leading steps left out of V. (Keyword only.)
        steady_steps: Also return the last K outputs of every point.
            (Keyword only.)
        chunk_size: Points per compiled call; bounds memory. Rounded up to a
            multiple of the device count (times `MINOR_LANES` in the minor
            layout, so that no point takes XLA's scalar path). By default
            `MINOR_CHUNK` per device in the minor layout, `VMAP_CHUNK` in all
            in the vmap layout.
            (Keyword only.)
        devices: Devices to shard over; all of ``jax.devices()`` by default.
            (Keyword only.)
        layout: ``"vmap"`` (`jax.vmap` over the points: one point's arrays
            contiguous), ``"minor"`` (the points on the last axis of every
            array, stepped elementwise; a `rnn_dyn.models.GridMinor` model) or
            ``"auto"`` (`resolve_layout`: ``"minor"`` for small such models).
            Either way every point's value is the same however the grid is
            chunked or sharded; the two layouts agree to rounding.
            (Keyword only.)
        progress: Show a progress bar on stderr (only when it is a terminal).
            (Keyword only.)

    Returns:
        An `Evaluation`: NumPy arrays ``loss`` `(b,)` and ``steady`` `(b, K, p)`
        (None when ``steady_steps`` is 0), and the compile and run times.

    Raises:
        ValueError: If a shape or size does not fit, or the results would not
            fit in the host's free memory.
    """
    origin = subspace.origin
    loss_fn = check_cost_args(
        model, origin, x0, us, ys, loss=loss, burn_in=burn_in, last_only=False
    )
    n_steps = us.shape[0]
    k = _num_directions(subspace)
    check_params(model, point(subspace, jnp.zeros(k)))
    if not isinstance(coords, Grid):
        coords = np.asarray(coords)
        if coords.ndim != 2 or coords.shape[1] != k:
            raise ValueError(f"coords must have shape (b, {k}), got {coords.shape}")
    elif len(coords.axes) != k:
        n_axes = len(coords.axes)
        raise ValueError(f"a Grid of this subspace has {k} axes, got {n_axes}")
    subspace, x0, us, ys = promote(subspace, x0, us, ys)
    if not 0 <= steady_steps <= n_steps:
        raise ValueError(f"steady_steps must be in [0, {n_steps}], got {steady_steps}")
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    dtype = ravel_pytree(subspace.origin)[0].dtype
    total = len(coords)
    n_values = total * (1 + steady_steps * model.output_size)
    check_memory(n_values, dtype, "the grid's results", on_device=False)
    mesh = _mesh(devices)
    n_dev = mesh.devices.size
    platform = mesh.devices.flat[0].platform
    layout = resolve_layout(model, subspace.origin, layout, platform=platform)
    if chunk_size is None:
        chunk_size = MINOR_CHUNK * n_dev if layout == "minor" else VMAP_CHUNK
    multiple = n_dev * (MINOR_LANES if layout == "minor" else 1)
    chunk = -(-min(chunk_size, max(total, 1)) // multiple) * multiple
    kernel = _kernel(model, loss_fn, burn_in, steady_steps, mesh, layout)
    losses = np.empty((total,), dtype)
    steady = (
        np.empty((total, steady_steps, model.output_size), dtype)
        if steady_steps
        else None
    )
    start_time = time.perf_counter()
    avals = jax.tree_util.tree_map(
        lambda a: jax.ShapeDtypeStruct(jnp.shape(a), jnp.result_type(a)),
        (np.zeros((chunk, k), dtype), subspace, x0, us, ys),
    )
    compiled = _compile(kernel, avals)
    compile_seconds = time.perf_counter() - start_time
    start_time = time.perf_counter()
    bar = _progress_bar(total, progress)

    def store(start, n_valid, chunk_loss, chunk_steady):
        losses[start : start + n_valid] = _gather(chunk_loss)[:n_valid]
        if steady is not None:
            steady[start : start + n_valid] = _gather(chunk_steady)[:n_valid]
        if bar is not None:
            bar.update(n_valid)

    try:
        # Chunk i + 1 is dispatched before chunk i is brought back (JAX runs
        # asynchronously), so the devices do not wait on the host; at most
        # two chunks are in flight.
        pending = None
        for start in range(0, total, chunk):
            block = np.asarray(coords[start : start + chunk], dtype)
            n_valid = block.shape[0]
            if n_valid < chunk:  # pad with copies of the last point; dropped below
                pad = np.repeat(block[-1:], chunk - n_valid, axis=0)
                block = np.concatenate([block, pad])
            dispatched = (start, n_valid, *compiled(block, subspace, x0, us, ys))
            if pending is not None:
                store(*pending)
            pending = dispatched
        if pending is not None:
            store(*pending)
    finally:
        if bar is not None:
            bar.close()
    run_seconds = time.perf_counter() - start_time
    return Evaluation(losses, steady, compile_seconds, run_seconds, layout)


def _num_directions(subspace: Affine) -> int:
    return int(jax.tree_util.tree_leaves(subspace.directions)[0].shape[0])


def _gather(x: jax.Array) -> np.ndarray:
    """Bring a sharded result to this host (every host, when there are several)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return np.asarray(x)


def _progress_bar(total: int, enabled: bool):
    if not enabled or not sys.stderr.isatty():
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="pt", file=sys.stderr, leave=False)


def line(
    model: Model,
    theta_a: Params,
    theta_b: Params,
    x0: State,
    us: Inputs,
    ys: Targets,
    s: Float[ArrayLike, " num"],
    **kwargs: Any,
) -> Landscape:
    """Evaluate V on the line θ(s) = s·θ_a + (1 - s)·θ_b.

    Args:
        model: The model.
        theta_a: θ at s = 1.
        theta_b: θ at s = 0 (zeros for the paper's line s·θ_true).
        x0: Initial state, shape `(n,)`.
        us: Inputs, shape `(N, m)`.
        ys: Targets, shape `(N, p)`.
        s: Coordinates, shape `(num,)`.
        **kwargs: Keyword options of `evaluate` (loss, burn_in, steady_steps,
            chunk_size, devices, progress).

    Returns:
        A `Landscape` with ``loss`` of shape `(n,)`.
    """
    subspace = line_subspace(theta_a, theta_b)
    s = np.asarray(s)
    ev = evaluate(model, subspace, s[:, None], x0, us, ys, **kwargs)
    return Landscape((s,), ev.loss, ev.steady, subspace, *ev[2:])


def grid_2d(
    model: Model,
    theta_o: Params,
    theta_a: Params,
    theta_b: Params,
    x0: State,
    us: Inputs,
    ys: Targets,
    s1: Float[ArrayLike, " n1"],
    s2: Float[ArrayLike, " n2"],
    **kwargs: Any,
) -> Landscape:
    """Evaluate V on the grid θ(s₁, s₂) = θ_o + s₁(θ_a - θ_o) + s₂(θ_b - θ_o).

    Args:
        model: The model.
        theta_o: θ at (0, 0) (zeros for the paper's plane).
        theta_a: θ at (1, 0) (θ_true in the paper).
        theta_b: θ at (0, 1) (θ_random in the paper).
        x0: Initial state, shape `(n,)`.
        us: Inputs, shape `(N, m)`.
        ys: Targets, shape `(N, p)`.
        s1: First coordinates, shape `(n1,)`.
        s2: Second coordinates, shape `(n2,)`.
        **kwargs: Keyword options of `evaluate`.

    Returns:
        A `Landscape` with ``loss`` of shape `(n1, n2)` (``loss[i, j]`` at
        ``(s1[i], s2[j])``).
    """
    subspace = plane_subspace(theta_o, theta_a, theta_b)
    grid = Grid((s1, s2))
    ev = evaluate(model, subspace, grid, x0, us, ys, **kwargs)
    s1, s2 = grid.axes
    shape = (s1.size, s2.size)
    steady = (
        None
        if ev.steady is None
        else ev.steady.reshape(*shape, -1, ev.steady.shape[-1])
    )
    return Landscape((s1, s2), ev.loss.reshape(shape), steady, subspace, *ev[2:])


def reference_outputs(
    model: Model, theta: Params, x0: State, us: Inputs, *, layout: str = "auto"
) -> Float[Array, "t p"]:
    """Simulate θ with the grid evaluator itself and return its outputs `(N, p)`.

    Used as the targets of a landscape, this takes the same compiled
    arithmetic as the grid, so V at the grid point θ(s) = θ is 0 or at rounding
    level. On a chaotic model rounding differences grow like e^{λt}: targets
    from `rnn_dyn.simulate` (another compiled program) give the chaotic LSTM
    V(θ_true) ≈ 1e-35 after 200 steps, while these give exactly 0 there (tested).
    For models whose evaluator is compiled differently for different chunk
    sizes or options (float32 matrix products, say), V(θ) is at rounding level,
    about 1e-16, rather than exactly 0. ``layout`` (keyword only) is
    `evaluate`'s; give the grid the same one.
    """
    zero = jax.tree_util.tree_map(jnp.zeros_like, theta)
    dtype = ravel_pytree(theta)[0].dtype
    targets = jnp.zeros((us.shape[0], model.output_size), dtype)
    ev = evaluate(
        model,
        line_subspace(theta, zero),
        np.ones((1, 1), dtype),
        x0,
        us,
        targets,
        steady_steps=us.shape[0],
        layout=layout,
    )
    assert ev.steady is not None
    return jnp.asarray(ev.steady[0])


def coordinates(
    low: float, high: float, num: int, *, exact: Sequence[float] = ()
) -> np.ndarray:
    """Return ``num`` evenly spaced values in [low, high] plus the ``exact`` ones.

    The exact values (for instance s = 1, where θ(s) = θ_true) are inserted
    as they are, so the grid passes through them; the result is sorted and
    free of duplicates.
    """
    grid = np.linspace(low, high, num)
    return np.unique(np.concatenate([grid, np.asarray(exact, float)]))


def value_at(landscape: Landscape, *coords: float) -> float:
    """The loss of ``landscape`` at grid coordinates that it holds exactly.

    Raises:
        ValueError: If a coordinate is not a grid value (see `coordinates`'
            ``exact``).
    """
    index = []
    for axis, (grid, c) in enumerate(zip(landscape.axes, coords, strict=True)):
        hits = np.flatnonzero(np.asarray(grid) == c)
        if hits.size == 0:
            raise ValueError(f"coordinate {c} is not on axis {axis} of the grid")
        index.append(int(hits[0]))
    return float(np.asarray(landscape.loss)[tuple(index)])


def local_minima(loss: np.ndarray) -> int:
    """Count the strict interior local minima of a loss on a line or a grid.

    A point counts if it is finite and strictly below each of its neighbours
    (2 on a line, 8 on a plane); a point next to a non-finite value does not.
    """
    loss = np.asarray(loss, float)
    inner = lambda shift: tuple(
        slice(1 + o, n - 1 + o) for o, n in zip(shift, loss.shape, strict=True)
    )
    mid = loss[inner((0,) * loss.ndim)]
    is_min = np.isfinite(mid)
    for shift in itertools.product((-1, 0, 1), repeat=loss.ndim):
        if any(shift):
            is_min &= mid < loss[inner(shift)]
    return int(is_min.sum())
