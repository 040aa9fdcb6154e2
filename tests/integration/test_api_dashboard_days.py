"""/api/user/dashboard?days=N: the console's 7/30-day selector (an extension; 7 by default)."""

from __future__ import annotations

import time

from oneapi.db.models import Log
from tests.api_support import Api
from tests.integration.test_api_users import ROOT, call, database, ok, refused

DAY = 86400


async def test_days_widens_the_window_and_is_bounded(api: Api) -> None:
    root = await api.login(*ROOT)
    me = (await call(root, "GET", "/api/user/self"))["data"]["id"]
    today = int(time.time()) // DAY * DAY
    async with database(api).log_session() as s:
        for at in (today + 5, today - 10 * DAY, today - 29 * DAY, today - 30 * DAY):
            s.add(Log(user_id=me, created_at=at, type=2, content="", username="root",
                      model_name="gpt-4o", quota=1, prompt_tokens=1, completion_tokens=1))
        await s.commit()
    week = ok(await call(root, "GET", "/api/user/dashboard"))
    month = ok(await call(root, "GET", "/api/user/dashboard?days=30"))
    assert [r["Day"] for r in week] == [time.strftime("%Y-%m-%d", time.gmtime(today))]
    assert len(month) == 3  # 30 days back is outside the window
    refused(await call(root, "GET", "/api/user/dashboard?days=31"))
    refused(await call(root, "GET", "/api/user/dashboard?days=0"))
