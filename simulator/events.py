"""The simulator's event model: one plugin event with the time NINA raised it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
import math
from typing import Any

JsonDict = dict[str, Any]

NAN = math.nan  # one shared object, so events holding NaN still compare equal


@dataclass(frozen=True)
class SimEvent:
    """One plugin event: `data` holds the keys beside "Event" in the socket `Response`."""

    time: datetime  # aware, in NINA's zone
    name: str
    data: JsonDict = field(default_factory=dict, hash=False)
    epoch: int = 0  # NINA process generation: 0, then 1 after a restart
    # False for a frame NINA's /image-history never recorded (seen on real rigs for flat runs):
    # the socket still carries its statistics, the history only the sparse IMAGE-SAVE.
    in_image_history: bool = True
