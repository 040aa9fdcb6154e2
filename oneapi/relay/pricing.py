"""Quota arithmetic of the reference (spec 6.3-6.5), exactly."""

from __future__ import annotations

import math
from dataclasses import dataclass

from oneapi.billing.ratios import completion_ratio, group_ratio, image_cost_ratio, model_ratio
from oneapi.options import Options


@dataclass(frozen=True, slots=True)
class Price:
    model_ratio: float
    group_ratio: float
    completion_ratio: float

    @property
    def ratio(self) -> float:
        return self.model_ratio * self.group_ratio

    def log_content(self, *, with_completion: bool = True) -> str:
        if with_completion:
            return (f"倍率：{self.model_ratio:.2f} × {self.group_ratio:.2f} × "
                    f"{self.completion_ratio:.2f}")
        return f"倍率：{self.model_ratio:.2f} × {self.group_ratio:.2f}"


def price_for(options: Options, model: str, channel_type: int, group: str) -> Price:
    return Price(
        model_ratio(model, channel_type, options.model_ratios),
        group_ratio(group, options.group_ratios),
        completion_ratio(model, channel_type, options.completion_ratios),
    )


def pre_consumption(options: Options, prompt_tokens: int, max_tokens: int, price: Price) -> int:
    """The reservation before a text call: (PreConsumedQuota + prompt + max_tokens) x ratio."""
    return int((options.int("PreConsumedQuota") + prompt_tokens + max_tokens) * price.ratio)


def text_cost(prompt_tokens: int, completion_tokens: int, price: Price) -> int:
    if prompt_tokens + completion_tokens == 0:
        return 0
    quota = math.ceil((prompt_tokens + completion_tokens * price.completion_ratio) * price.ratio)
    if price.ratio != 0 and quota <= 0:
        quota = 1
    return quota


def image_cost(price: Price, model: str, size: str, quality: str, n: int) -> int:
    return int(price.ratio * image_cost_ratio(model, size, quality) * 1000) * n


def speech_cost(text: str, price: Price) -> int:
    return int(len(text.encode()) * price.ratio)
