"""Campaign results: per-variant rates and a two-proportion z-test between variants. Pure.

A variant's counters, as the store keeps them ("{variant}:{name}"): shown, closed, clicked,
submitted (each once per impression), purchase and revenue (sums over every attributed order), and
conversion (a converting visitor once per impression window, so never more than impressions).
The conversion rate and the test use conversions, never purchases.
"""

from __future__ import annotations

import math
from typing import Any

COUNTERS = {"impressions": "shown", "closes": "closed", "clicks": "clicked", "submits": "submitted",
            "purchases": "purchase", "conversions": "conversion"}


def _count(x: float) -> float:
    return x if math.isfinite(x) and x > 0 else 0.0


def two_proportion_p(x1: float, n1: float, x2: float, n2: float) -> float | None:
    """Two-sided p-value that two rates x1/n1 and x2/n2 differ (pooled z-test). Defined for every
    input: None without trials on either side; successes are clamped to 0..trials."""
    n1, n2 = _count(n1), _count(n2)
    if n1 <= 0 or n2 <= 0:
        return None
    x1, x2 = min(_count(x1), n1), min(_count(x2), n2)
    pooled = (x1 + x2) / (n1 + n2)
    var = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if var <= 0:
        return 1.0
    z = (x1 / n1 - x2 / n2) / math.sqrt(var)
    return min(1.0, max(0.0, math.erfc(abs(z) / math.sqrt(2))))


def campaign_results(variants: list[str], counts: dict[str, float]) -> dict[str, Any]:
    """`counts` holds "{variant}:{counter}" -> n and "{variant}:revenue" -> sum, as the store keeps them."""
    rows = []
    for v in variants:
        row: dict[str, Any] = {"variant": v}
        for out, name in COUNTERS.items():
            row[out] = int(_count(counts.get(f"{v}:{name}", 0.0)))
        if f"{v}:conversion" not in counts:  # counted before conversions were kept apart
            row["conversions"] = min(row["purchases"], row["impressions"])
        row["conversions"] = min(row["conversions"], row["impressions"])
        row["emails"] = row["submits"]
        row["revenue"] = round(_count(counts.get(f"{v}:revenue", 0.0)), 2)
        n = row["impressions"]
        row["conversion_rate"] = row["conversions"] / n if n else 0.0
        row["click_rate"] = min(1.0, row["clicks"] / n) if n else 0.0
        rows.append(row)
    base = rows[0] if rows else None
    for row in rows[1:]:
        assert base is not None
        p = two_proportion_p(row["conversions"], row["impressions"], base["conversions"], base["impressions"])
        row["vs_first"] = {"variant": base["variant"], "p_value": p, "significant": p is not None and p < 0.05}
    totals = {k: sum(r[k] for r in rows) for k in ("impressions", "closes", "clicks", "submits", "purchases",
                                                    "conversions")}
    totals["revenue"] = round(sum(r["revenue"] for r in rows), 2)
    return {"variants": rows, "totals": totals}


FUNNEL = ("home", "category", "product", "cart", "checkout", "thanks")
FUNNEL_NAMES = {"home": "the home page", "category": "a category page", "product": "a product page",
                "cart": "the cart", "checkout": "checkout", "thanks": "the thank-you page"}


def funnel_report(reached: dict[str, int]) -> dict[str, Any]:
    """Sessions reaching each step (home → category → product → cart → checkout → thanks), the drop
    between steps, and the step that loses the most, in words. Defined for every input: a step can
    be reached without the one before (a shopper landing on a product page), so a "drop" is never
    below zero."""
    counts = [max(0, int(reached.get(kind, 0))) for kind in FUNNEL]
    lost = [0] + [max(0, counts[n - 1] - counts[n]) for n in range(1, len(FUNNEL))]
    share = [0.0] + [lost[n] / counts[n - 1] if counts[n - 1] else 0.0 for n in range(1, len(FUNNEL))]
    steps = [{"kind": k, "sessions": counts[n], "lost": lost[n], "lost_pct": share[n]} for n, k in enumerate(FUNNEL)]
    w = max(range(1, len(FUNNEL)), key=lambda n: (lost[n], share[n]))
    if lost[w] <= 0:
        summary = "No step loses shoppers in this period." if any(counts) else "No sessions in this period yet."
        return {"steps": steps, "worst": None, "summary": summary}
    summary = (f"The most shoppers are lost between {FUNNEL_NAMES[FUNNEL[w - 1]]} and {FUNNEL_NAMES[FUNNEL[w]]}: "
               f"{lost[w]} of {counts[w - 1]} sessions ({100 * share[w]:.0f}%) go no further.")
    return {"steps": steps, "worst": FUNNEL[w], "summary": summary}
