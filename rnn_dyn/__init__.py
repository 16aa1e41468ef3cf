"""rnn_dyn: recurrent neural networks as dynamical systems, in JAX.

Public names are loaded lazily (PEP 562), so ``rnn-dyn --help`` and
``import rnn_dyn.cli`` never import JAX; ``import rnn_dyn`` then
``rnn_dyn.simulate`` imports it on first use. `_EXPORTS` is the list of
public names; the ``TYPE_CHECKING`` block repeats it for type checkers and
editors, and `tests/test_exports.py` keeps the two equal.
"""

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "models": (".models", None),
    "examples": (".examples", None),
    "landscape": (".landscape", None),
    "lipschitz": (".lipschitz", None),
    "smoothness": (".smoothness", None),
    "tasks": (".tasks", None),
    "train": (".train", None),
    "orbit": (".orbit", None),
    "plotting": (".plotting", None),
    "power_iteration": ("._lipschitz", "power_iteration"),
    "PowerIterationResult": ("._lipschitz", "PowerIterationResult"),
    "jacobian_norms": ("._lipschitz", "jacobian_norms"),
    "JacobianNorms": ("._lipschitz", "JacobianNorms"),
    "trajectory_lipschitz": ("._lipschitz", "trajectory_lipschitz"),
    "entropy": (".entropy", None),
    "kozachenko_leonenko": (".entropy", "kozachenko_leonenko"),
    "ensemble_entropy": (".entropy", "ensemble_entropy"),
    "EnsembleEntropy": (".entropy", "EnsembleEntropy"),
    "lyapunov": (".lyapunov", None),
    "lyapunov_spectrum": (".lyapunov", "lyapunov_spectrum"),
    "largest_lyapunov_exponent": (".lyapunov", "largest_lyapunov_exponent"),
    "LyapunovSpectrum": (".lyapunov", "LyapunovSpectrum"),
    "classify_attractor": (".lyapunov", "classify_attractor"),
    "Attractor": (".lyapunov", "Attractor"),
    "fixed_points": ("._fixed_points", "fixed_points"),
    "cycles": ("._fixed_points", "cycles"),
    "FixedPoints": ("._fixed_points", "FixedPoints"),
    "save_params": ("._io", "save_params"),
    "load_params": ("._io", "load_params"),
    "mse": ("._losses", "mse"),
    "bce_with_logits": ("._losses", "bce_with_logits"),
    "cross_entropy": ("._losses", "cross_entropy"),
    "Trajectory": ("._simulate", "Trajectory"),
    "simulate": ("._simulate", "simulate"),
    "cost": ("._simulate", "cost"),
    "Jacobians": ("._sensitivity", "Jacobians"),
    "Sensitivities": ("._sensitivity", "Sensitivities"),
    "step_jacobians": ("._sensitivity", "step_jacobians"),
    "jacobians": ("._sensitivity", "jacobians"),
    "forward_sensitivities": ("._sensitivity", "forward_sensitivities"),
    "forward_gradient": ("._sensitivity", "forward_gradient"),
    "reverse_gradient": ("._sensitivity", "reverse_gradient"),
    "directional_sensitivity": ("._sensitivity", "directional_sensitivity"),
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'rnn_dyn' has no attribute {name!r}")
    module_name, attr = _EXPORTS[name]
    module = importlib.import_module(module_name, __name__)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:
    from . import entropy as entropy
    from . import examples as examples
    from . import landscape as landscape
    from . import lipschitz as lipschitz
    from . import lyapunov as lyapunov
    from . import models as models
    from . import orbit as orbit
    from . import plotting as plotting
    from . import smoothness as smoothness
    from . import tasks as tasks
    from . import train as train
    from ._fixed_points import FixedPoints as FixedPoints
    from ._fixed_points import cycles as cycles
    from ._fixed_points import fixed_points as fixed_points
    from ._io import load_params as load_params
    from ._io import save_params as save_params
    from ._lipschitz import JacobianNorms as JacobianNorms
    from ._lipschitz import PowerIterationResult as PowerIterationResult
    from ._lipschitz import jacobian_norms as jacobian_norms
    from ._lipschitz import power_iteration as power_iteration
    from ._lipschitz import trajectory_lipschitz as trajectory_lipschitz
    from ._losses import bce_with_logits as bce_with_logits
    from ._losses import cross_entropy as cross_entropy
    from ._losses import mse as mse
    from ._sensitivity import Jacobians as Jacobians
    from ._sensitivity import Sensitivities as Sensitivities
    from ._sensitivity import directional_sensitivity as directional_sensitivity
    from ._sensitivity import forward_gradient as forward_gradient
    from ._sensitivity import forward_sensitivities as forward_sensitivities
    from ._sensitivity import jacobians as jacobians
    from ._sensitivity import reverse_gradient as reverse_gradient
    from ._sensitivity import step_jacobians as step_jacobians
    from ._simulate import Trajectory as Trajectory
    from ._simulate import cost as cost
    from ._simulate import simulate as simulate
    from .entropy import EnsembleEntropy as EnsembleEntropy
    from .entropy import ensemble_entropy as ensemble_entropy
    from .entropy import kozachenko_leonenko as kozachenko_leonenko
    from .lyapunov import Attractor as Attractor
    from .lyapunov import LyapunovSpectrum as LyapunovSpectrum
    from .lyapunov import classify_attractor as classify_attractor
    from .lyapunov import largest_lyapunov_exponent as largest_lyapunov_exponent
    from .lyapunov import lyapunov_spectrum as lyapunov_spectrum
