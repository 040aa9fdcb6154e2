"""Log rows other than consume logs (top-up, manage, system, test), and quota text."""

from __future__ import annotations

import time

from sqlalchemy import insert

from oneapi.db.engine import Database
from oneapi.db.models import Log
from oneapi.options import Options

LOG_TOPUP, LOG_CONSUME, LOG_MANAGE, LOG_SYSTEM, LOG_TEST = 1, 2, 3, 4, 5


def format_quota(options: Options, quota: int) -> str:
    """The reference's LogQuota: dollars when DisplayInCurrencyEnabled, else points."""
    if options.bool("DisplayInCurrencyEnabled"):
        return f"＄{quota / options.float('QuotaPerUnit'):.6f} 额度"
    return f"{quota} 点额度"


async def record_log(db: Database, *, user_id: int, username: str, type: int, content: str,
                     quota: int = 0, request_id: str = "", channel_id: int = 0,
                     model_name: str = "", elapsed_time: int = 0) -> None:
    async with db.log_session() as session:
        await session.execute(insert(Log).values(
            user_id=user_id, username=username, created_at=int(time.time()), type=type,
            content=content, quota=quota, request_id=request_id, channel_id=channel_id,
            model_name=model_name, elapsed_time=elapsed_time,
            token_name="", prompt_tokens=0, completion_tokens=0,
            is_stream=False, system_prompt_reset=False))
        await session.commit()
