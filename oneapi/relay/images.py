"""Image request validation (spec 4.5): prompt, size, prompt length, n."""

from __future__ import annotations

from oneapi.billing.ratio_defaults import (
    DEFAULT_IMAGE_GENERATION_AMOUNTS,
    DEFAULT_IMAGE_PROMPT_LENGTH_LIMITS,
    DEFAULT_IMAGE_SIZE_RATIOS,
)
from oneapi.errors import RelayError
from oneapi.relay.parse import RelayRequest

DEFAULT_PROMPT_LIMIT = 4000


def _bad(message: str, code: str) -> RelayError:
    return RelayError(400, message, code=code)


def validate_image_request(request: RelayRequest) -> None:
    data = request.data
    model = request.model
    prompt = data.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        raise _bad("prompt is required", "prompt_missing")
    size = data.get("size") or "1024x1024"
    sizes = DEFAULT_IMAGE_SIZE_RATIOS.get(model)
    if sizes is not None and size not in sizes and model != "cogview-3":
        raise _bad(f"size {size} is not supported by {model}", "size_not_supported")
    limit = DEFAULT_IMAGE_PROMPT_LENGTH_LIMITS.get(model, DEFAULT_PROMPT_LIMIT)
    if len(prompt) > limit:
        raise _bad(f"prompt is longer than {limit} characters", "prompt_too_long")
    n = data.get("n") or 1
    if not isinstance(n, int) or isinstance(n, bool):
        raise _bad("n must be an integer", "n_not_within_range")
    low, high = DEFAULT_IMAGE_GENERATION_AMOUNTS.get(model, (1, 10 if n else 1))
    if model in DEFAULT_IMAGE_GENERATION_AMOUNTS and not low <= n <= high:
        raise _bad(f"n must be between {low} and {high} for {model}", "n_not_within_range")
