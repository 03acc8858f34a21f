"""Campaign results are defined for every input: rates in [0, 1], p-values in [0, 1] or None,
never an exception, whatever the counters hold (repeat buyers, stale data, hand edits)."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from server.core.stats import campaign_results, two_proportion_p

count = st.one_of(st.integers(min_value=-10, max_value=10**9), st.floats(allow_nan=True, allow_infinity=True))


@given(count, count, count, count)
def test_p_value_is_defined_for_any_counts(x1: float, n1: float, x2: float, n2: float) -> None:
    p = two_proportion_p(x1, n1, x2, n2)
    assert p is None or (0.0 <= p <= 1.0 and not math.isnan(p))


@given(st.dictionaries(st.sampled_from([f"{v}:{c}" for v in "ab" for c in
                                        ("shown", "closed", "clicked", "submitted", "purchase", "conversion",
                                         "revenue")]),
                       st.floats(min_value=-1e12, max_value=1e12, allow_nan=False)))
def test_results_are_defined_for_any_counters(counts: dict[str, float]) -> None:
    out = campaign_results(["a", "b"], counts)
    for row in out["variants"]:
        assert 0.0 <= row["conversion_rate"] <= 1.0 and 0.0 <= row["click_rate"] <= 1.0
        assert row["conversions"] <= row["impressions"]
    p = out["variants"][1]["vs_first"]["p_value"]
    assert p is None or 0.0 <= p <= 1.0


def test_a_repeat_buyer_converts_once() -> None:
    out = campaign_results(["a", "b"], {"a:shown": 1, "a:purchase": 3, "a:conversion": 1, "a:revenue": 267.0,
                                        "b:shown": 1})
    a, b = out["variants"]
    assert (a["conversion_rate"], a["purchases"], a["revenue"]) == (1.0, 3, 267.0)
    assert b["vs_first"]["p_value"] is not None


def test_old_counters_without_conversions_are_capped_by_impressions() -> None:
    a = campaign_results(["a"], {"a:shown": 2, "a:purchase": 5})["variants"][0]
    assert a["conversions"] == 2 and a["conversion_rate"] == 1.0
