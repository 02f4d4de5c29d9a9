"""One clock for everything time-driven in announcements (engine, reminders, scheduling, validation).

Production reads the system time unshifted. Tests move it forward (`shift`) to make reminders and
scheduled sends due without waiting, through the real app.
"""

from __future__ import annotations

import time
from typing import Callable


class Clock:
    """Epoch seconds from `source`, plus an offset that only tests change."""

    def __init__(self, source: Callable[[], float] = time.time) -> None:
        self._source = source
        self.offset = 0.0

    def __call__(self) -> float:
        return self._source() + self.offset

    def shift(self, seconds: float) -> None:
        self.offset += seconds
