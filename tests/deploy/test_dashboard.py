"""The Grafana dashboard (helm/one-api/files/grafana-dashboard.json) queries only
metrics the app exports, so no panel stays empty after a rename."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.deploy.support import dashboard, exported_series

# PromQL words that are not series names (functions, aggregations, keywords).
PROMQL_WORDS = {
    "sum", "avg", "min", "max", "count", "topk", "bottomk", "quantile", "stddev", "group",
    "rate", "irate", "increase", "delta", "deriv", "histogram_quantile", "clamp_min",
    "clamp_max", "abs", "ceil", "floor", "round", "vector", "scalar", "time", "absent",
    "label_replace", "sort", "sort_desc", "avg_over_time", "max_over_time", "min_over_time",
    "sum_over_time", "by", "without", "on", "ignoring", "group_left", "group_right",
    "and", "or", "unless", "offset", "bool",
}
LABEL_VALUES = re.compile(r"^label_values\(\s*(?:([A-Za-z_:][\w:]*)\s*,\s*)?(\w+)\s*\)$")


def series_names(expr: str) -> set[str]:
    """The series an expression selects: identifiers left once label matchers,
    grouping clauses, strings, ranges and Grafana variables are removed."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"\$\{?\w+\}?", "", text)
    words = set(re.findall(r"[A-Za-z_:][\w:]*", text))
    return {w for w in words if w not in PROMQL_WORDS}


def queries(node: Any) -> Iterator[str]:
    """Every PromQL expression in the dashboard (panel targets, nested rows)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "expr" and isinstance(value, str):
                yield value
            else:
                yield from queries(value)
    elif isinstance(node, list):
        for item in node:
            yield from queries(item)


def test_series_names_sees_through_promql() -> None:
    expr = ('sum by (channel) (rate(oneapi_x_total{outcome!="success",a=~"$v"}[5m])) '
            "/ on (channel) sum(rate(other_series[$__rate_interval]))")
    assert series_names(expr) == {"oneapi_x_total", "other_series"}


def test_every_panel_query_names_exported_metrics() -> None:
    exported = exported_series()
    exprs = list(queries(dashboard()["panels"]))
    assert len(exprs) >= 15
    used: set[str] = set()
    for expr in exprs:
        names = series_names(expr)
        assert names, f"no series in {expr!r}"
        unknown = names - exported
        assert not unknown, f"{expr!r} queries {sorted(unknown)}, which the app does not export"
        used |= names
    # The dashboard covers each family of docs/metrics.md (created series aside).
    families = {re.sub(r"_(total|bucket|count|sum|created)$", "", n) for n in exported}
    covered = {re.sub(r"_(total|bucket|count|sum)$", "", n) for n in used}
    assert families <= covered, f"no panel for {sorted(families - covered)}"


def test_template_variables_query_exported_metrics() -> None:
    variables = dashboard()["templating"]["list"]
    assert {v["name"] for v in variables} >= {"datasource", "namespace"}
    for variable in variables:
        if variable["type"] != "query":
            continue
        query = variable["query"]
        text = query["query"] if isinstance(query, dict) else query
        match = LABEL_VALUES.match(text)
        assert match, text
        assert match.group(1) in exported_series()


@pytest.mark.parametrize("panel", [p for p in dashboard()["panels"] if p["type"] != "row"],
                         ids=lambda p: str(p["id"]))
def test_panels_use_the_datasource_variable(panel: dict[str, Any]) -> None:
    assert panel["datasource"]["uid"] == "${datasource}"
    assert panel["targets"]
    ids = [t["refId"] for t in panel["targets"]]
    assert len(ids) == len(set(ids))
