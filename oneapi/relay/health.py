"""Success-rate monitor (ENABLE_METRIC, spec 5.5): a channel whose recent
success rate falls below METRIC_SUCCESS_RATE_THRESHOLD is disabled."""

from __future__ import annotations

from collections import deque


class ChannelHealth:
    def __init__(self, enabled: bool, window: int, threshold: float) -> None:
        self.enabled = enabled
        self.window = max(1, window)
        self.threshold = threshold
        self._outcomes: dict[int, deque[bool]] = {}

    def record(self, channel_id: int, ok: bool) -> bool:
        """Note one outcome; True when the channel should now be disabled."""
        if not self.enabled:
            return False
        outcomes = self._outcomes.get(channel_id)
        if outcomes is None:
            outcomes = self._outcomes[channel_id] = deque(maxlen=self.window)
        outcomes.append(ok)
        if ok or len(outcomes) < self.window:
            return False
        if sum(outcomes) / len(outcomes) < self.threshold:
            outcomes.clear()  # start over once the channel is back
            return True
        return False
