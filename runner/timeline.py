"""The moments of one session that a fleet is judged by: launched, claimed, ready, first audio.

Recorded in one place so that every consumer reads the same moments: today the Prometheus
histograms; the session record's timings can read them from here too. Times are wall-clock
seconds because the launch moment is the gateway's (`LaunchPayload.created_at`), taken in
another process; NTP keeps pods' clocks close, and a negative skew is clamped to zero.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from voicefleet.observability.metrics import LAUNCH_TO_FIRST_AUDIO, LAUNCH_TO_READY


@dataclass
class SessionTimeline:
    launched_at: float
    # When this runner became able to take a launch (models preloaded); None: not yet.
    warm_since: float | None
    claimed_at: float | None = None
    ready_at: float | None = None
    first_audio_at: float | None = None
    start: str = field(init=False)

    def __post_init__(self) -> None:
        # Cold: the launch existed before this runner could take it, so it waited for a start.
        warm = self.warm_since is not None and self.warm_since <= self.launched_at
        self.start = "warm" if warm else "cold"

    def claimed(self) -> None:
        self.claimed_at = time.time()

    def ready(self) -> None:
        """The bot is in the call: the client connected, or the bot joined the room."""
        if self.ready_at is None:
            self.ready_at = time.time()
            LAUNCH_TO_READY.labels(start=self.start).observe(self._since_launch(self.ready_at))

    def first_audio(self) -> None:
        if self.first_audio_at is None:
            self.first_audio_at = time.time()
            LAUNCH_TO_FIRST_AUDIO.labels(start=self.start).observe(
                self._since_launch(self.first_audio_at)
            )

    def _since_launch(self, at: float) -> float:
        return max(at - self.launched_at, 0.0)
