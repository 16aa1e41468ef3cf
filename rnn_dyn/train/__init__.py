r"""Training: the paper's tasks, several seeds at once, recorded attractors, resume.

- `TrainConfig` is every setting of a run, with each protocol's values per
  task in `PROTOCOLS` (``"rnn_dyn"``, this project's, also `TASK_DEFAULTS`;
  ``"authors"``, the authors' code's): the one place they live, so
  ``rnn-dyn train`` builds the same config from the same flags.
- `make_data` and `make_model` build what a config trains on and what it
  trains; `make_train_step` the jitted epoch of one seed (minibatch steps in a
  `lax.scan`, or truncated BPTT for the language model); `make_evaluate` its
  loss and accuracy on a split.
- `fit` runs the epochs for every seed at once (vmapped), with the learning-
  rate schedule, the orbit recorder and the run directory.
- `Run` owns a run directory: create, resume, save, and read back the config,
  history, parameters, checkpoints and orbits.

The tasks: ``sine`` and ``symbols`` (minibatches of whole sequences), and
``lm``, a word-level language model trained by truncated BPTT over parallel
streams of a corpus.
"""

from ._config import MODELS as MODELS
from ._config import PROTOCOLS as PROTOCOLS
from ._config import SCHEDULES as SCHEDULES
from ._config import TASK_DEFAULTS as TASK_DEFAULTS
from ._config import TrainConfig as TrainConfig
from ._data import LMData as LMData
from ._data import lm_splits as lm_splits
from ._data import make_data as make_data
from ._data import make_lm_data as make_lm_data
from ._data import make_model as make_model
from ._data import make_task as make_task
from ._fit import FitResult as FitResult
from ._fit import TrainState as TrainState
from ._fit import fit as fit
from ._fit import init_state as init_state
from ._lm import window_progress as window_progress
from ._run import HISTORY_FIELDS as HISTORY_FIELDS
from ._run import Run as Run
from ._run import read_history as read_history
from ._step import TrainStep as TrainStep
from ._step import make_evaluate as make_evaluate
from ._step import make_train_step as make_train_step
