"""Channel health: tests (spec 5.7) and balance queries (spec 5.8).

Used by the admin routes and by the periodic scheduler::

    from oneapi import channels
    report = await channels.test_all_channels("all")     # in the app context
    balances = await channels.update_all_balances()
"""

from __future__ import annotations

from oneapi.channels.balance import (
    BalanceError,
    BalanceReport,
    query_balance,
    update_all_balances,
    update_balance,
)
from oneapi.channels.probe import (
    ALREADY_RUNNING,
    ProbeResult,
    TestAllReport,
    TestsAlreadyRunning,
    build_test_meta,
    pick_test_model,
    probe,
    start_test_all,
    test_all_channels,
    test_all_running,
    test_channel,
)

__all__ = [
    "ALREADY_RUNNING",
    "BalanceError",
    "BalanceReport",
    "ProbeResult",
    "TestAllReport",
    "TestsAlreadyRunning",
    "build_test_meta",
    "pick_test_model",
    "probe",
    "query_balance",
    "start_test_all",
    "test_all_channels",
    "test_all_running",
    "test_channel",
    "update_all_balances",
    "update_balance",
]
