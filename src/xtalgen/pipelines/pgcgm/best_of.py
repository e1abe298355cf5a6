"""Best-of-k selection: draw more accepted candidates than asked for, keep the ``n`` with the highest score.

Shared by critic-guided rejection (score ``critic_score``) and stability ranking (score ``p_metastable``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def draw_target(n: int, fraction: float) -> int:
    """Accepted candidates to draw so that the best ``fraction`` of them are ``n``."""
    return max(n, math.ceil(n / fraction - 1e-9))


def keep_best(results: Sequence[Any], n: int, *, key: str, reason: str) -> int:
    """Reject in place (as ``reason``) all but the ``n`` accepted results with the highest ``extra[key]``; return
    how many were rejected. Ties go to the earlier candidate (a stable sort), so the outcome is fixed by the seed.
    """
    accepted = [r for r in results if r.accepted]
    order = sorted(range(len(accepted)), key=lambda i: -float(accepted[i].extra[key]))
    dropped = 0
    for i in order[n:]:
        r = accepted[i]
        r.accepted, r.reason = False, reason
        r.detail = f"{key} {r.extra[key]:.4g} below the best {n} of {len(accepted)}"
        dropped += 1
    return dropped
