"""The paper's training tasks (Appendix D) as arrays: sine generation, symbols."""

from ._task import Task as Task
from .sine import sine as sine
from .symbols import symbols as symbols

TASKS = ("sine", "symbols")
