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

# The one export list. A public module or package (``rd.x.name``) is
# listed in `_MODULES`; a top-level name (``rd.name``) is defined in the
# private module ``_x.py`` it is listed under. `tests/test_exports.py` checks
# this against the modules, and the TYPE_CHECKING mirror below against it.
_MODULES = (
    "models",
    "examples",
    "tasks",
    "landscape",
    "smoothness",
    "train",
    "orbit",
    "plotting",
)
_NAMES = {
    "._simulate": ("Trajectory", "simulate", "cost"),
    "._sensitivity": (
        "Jacobians",
        "Sensitivities",
        "step_jacobians",
        "jacobians",
        "forward_sensitivities",
        "forward_gradient",
        "reverse_gradient",
        "directional_sensitivity",
    ),
    "._lipschitz": (
        "PowerIterationResult",
        "power_iteration",
        "JacobianNorms",
        "jacobian_norms",
        "trajectory_lipschitz",
        "CostSmoothness",
        "cost_smoothness",
        "jacobian_lipschitz",
    ),
    "._lyapunov": (
        "LyapunovSpectrum",
        "lyapunov_spectrum",
        "largest_lyapunov_exponent",
        "kaplan_yorke_dimension",
        "Attractor",
        "classify_attractor",
    ),
    "._fixed_points": ("FixedPoints", "fixed_points", "cycles", "fixed_point_starts"),
    "._entropy": ("kozachenko_leonenko", "EnsembleEntropy", "ensemble_entropy"),
    "._losses": ("mse", "bce_with_logits", "cross_entropy"),
    "._io": ("save_params", "load_params"),
}
_EXPORTS = {name: (f".{name}", None) for name in _MODULES} | {
    name: (module, name) for module, names in _NAMES.items() for name in names
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
    from . import examples as examples
    from . import landscape as landscape
    from . import models as models
    from . import orbit as orbit
    from . import plotting as plotting
    from . import smoothness as smoothness
    from . import tasks as tasks
    from . import train as train
    from ._entropy import EnsembleEntropy as EnsembleEntropy
    from ._entropy import ensemble_entropy as ensemble_entropy
    from ._entropy import kozachenko_leonenko as kozachenko_leonenko
    from ._fixed_points import FixedPoints as FixedPoints
    from ._fixed_points import cycles as cycles
    from ._fixed_points import fixed_point_starts as fixed_point_starts
    from ._fixed_points import fixed_points as fixed_points
    from ._io import load_params as load_params
    from ._io import save_params as save_params
    from ._lipschitz import CostSmoothness as CostSmoothness
    from ._lipschitz import JacobianNorms as JacobianNorms
    from ._lipschitz import PowerIterationResult as PowerIterationResult
    from ._lipschitz import cost_smoothness as cost_smoothness
    from ._lipschitz import jacobian_lipschitz as jacobian_lipschitz
    from ._lipschitz import jacobian_norms as jacobian_norms
    from ._lipschitz import power_iteration as power_iteration
    from ._lipschitz import trajectory_lipschitz as trajectory_lipschitz
    from ._losses import bce_with_logits as bce_with_logits
    from ._losses import cross_entropy as cross_entropy
    from ._losses import mse as mse
    from ._lyapunov import Attractor as Attractor
    from ._lyapunov import LyapunovSpectrum as LyapunovSpectrum
    from ._lyapunov import classify_attractor as classify_attractor
    from ._lyapunov import kaplan_yorke_dimension as kaplan_yorke_dimension
    from ._lyapunov import largest_lyapunov_exponent as largest_lyapunov_exponent
    from ._lyapunov import lyapunov_spectrum as lyapunov_spectrum
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
