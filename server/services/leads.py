"""Leads as the API, the CLI and the admin see them: pages with filters, CSV rows, erasure."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

from ..core.leads import CSV_COLUMNS, csv_row
from ..live import Live

Cursor = tuple[float, str]


def keep(lead: dict[str, Any], f: dict[str, Any]) -> bool:
    """Whether a lead passes the filters (source, consent, temperature)."""
    return (("source" not in f or lead["source"] == f["source"])
            and ("consent" not in f or lead["consent"]["given"] == f["consent"])
            and ("temperature" not in f or lead.get("temperature") == f["temperature"]))


async def page(live: Live, site: str, cursor: Cursor | None, limit: int) -> list[dict[str, Any]]:
    return await live.store.leads.page(site, cursor, limit)


async def csv_chunks(live: Live, site: str, f: dict[str, Any]) -> AsyncIterator[str]:
    """Every lead that passes the filters as formula-safe CSV, a page at a time."""
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow(CSV_COLUMNS)
    cursor = None
    while True:
        rows = await live.store.leads.page(site, cursor, 500)
        for lead in rows:
            if keep(lead, f):
                out.writerow(csv_row(lead))
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
        if len(rows) < 500:
            return
        cursor = (rows[-1]["first_seen"], rows[-1]["email"])


async def erase(live: Live, site: str, email: str) -> dict[str, int]:
    """GDPR erasure of an address and every visitor it was seen on, on every instance."""
    return await live.erase(site, email)
