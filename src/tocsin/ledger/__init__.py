"""The rulebook: what an authenticated alert may do, decided once, without I/O.

* :mod:`tocsin.ledger.limits` — the one size limit and the cost budget, checked first;
* :mod:`tocsin.ledger.reach` — jurisdiction by effect (geocodes, polygons, circles);
* :mod:`tocsin.ledger.rules` — :func:`authorise`, the function the hub, ``tocsin verify``
  and ``tocsin monitor`` all apply;
* :mod:`tocsin.ledger.effects` — the state rules (references, status, all-clear trimming).
"""

from tocsin.ledger.limits import (
    MAX_ALERT_BYTES,
    MAX_STATEMENT_BYTES,
    LimitRefusal,
    cost_refusal,
    size_refusal,
)
from tocsin.ledger.reach import BORDER_TOLERANCE_KM, judge_reach
from tocsin.ledger.rules import Decision, Refusal, authorise

__all__ = [
    "BORDER_TOLERANCE_KM",
    "MAX_ALERT_BYTES",
    "MAX_STATEMENT_BYTES",
    "Decision",
    "LimitRefusal",
    "Refusal",
    "authorise",
    "cost_refusal",
    "judge_reach",
    "size_refusal",
]
