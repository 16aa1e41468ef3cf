"""The paper's training tasks (Appendix D): sine generation, symbols, WikiText."""

from ._task import Task as Task
from .sine import sine as sine
from .symbols import symbols as symbols
from .wikitext import SPLITS as SPLITS
from .wikitext import Corpus as Corpus
from .wikitext import read_corpus as read_corpus

TASKS = ("sine", "symbols", "lm")
