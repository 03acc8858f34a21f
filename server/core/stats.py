"""Campaign results: per-variant rates and a two-proportion z-test between variants. Pure."""

from __future__ import annotations

import math
from typing import Any

EVENTS = ("shown", "closed", "clicked", "submitted", "purchase")


def two_proportion_p(x1: float, n1: float, x2: float, n2: float) -> float | None:
    """Two-sided p-value that two conversion rates differ (pooled z-test); None without data."""
    if n1 <= 0 or n2 <= 0:
        return None
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    z = (x1 / n1 - x2 / n2) / se
    return math.erfc(abs(z) / math.sqrt(2))


def campaign_results(variants: list[str], counts: dict[str, float]) -> dict[str, Any]:
    """`counts` holds "{variant}:{event}" -> n and "{variant}:revenue" -> sum, as the store keeps them."""
    rows = []
    for v in variants:
        row: dict[str, Any] = {"variant": v}
        for ev in EVENTS:
            row["impressions" if ev == "shown" else ev + "s" if ev != "purchase" else "purchases"] = int(
                counts.get(f"{v}:{ev}", 0))
        row["emails"] = row["submitteds"]
        row["closes"], row["clicks"], row["submits"] = row.pop("closeds"), row.pop("clickeds"), row.pop("submitteds")
        row["revenue"] = round(counts.get(f"{v}:revenue", 0.0), 2)
        n = row["impressions"]
        row["conversion_rate"] = row["purchases"] / n if n else 0.0
        row["click_rate"] = row["clicks"] / n if n else 0.0
        rows.append(row)
    base = rows[0] if rows else None
    for row in rows[1:]:
        assert base is not None
        p = two_proportion_p(row["purchases"], row["impressions"], base["purchases"], base["impressions"])
        row["vs_first"] = {"variant": base["variant"], "p_value": p,
                           "significant": p is not None and p < 0.05}
    totals = {k: sum(r[k] for r in rows) for k in ("impressions", "closes", "clicks", "submits", "purchases")}
    totals["revenue"] = round(sum(r["revenue"] for r in rows), 2)
    return {"variants": rows, "totals": totals}
