"""static/widget.js is committed; it must be built from the current widget/src."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def src_stamp() -> str:
    h = hashlib.sha256()
    for f in sorted((ROOT / "widget" / "src").glob("*.js"), key=lambda f: f.name):
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def test_committed_bundle_matches_sources() -> None:
    head = (ROOT / "static" / "widget.js").read_text().splitlines()[0]
    m = re.match(r"/\*! linger widget v1 src:([0-9a-f]{16}) \*/", head)
    assert m, "static/widget.js has no source stamp: run `make widget`"
    assert m.group(1) == src_stamp(), "static/widget.js is stale: run `make widget` and commit it"


def test_committed_preview_matches_sources() -> None:
    head = (ROOT / "static" / "admin" / "preview.js").read_text().splitlines()[0]
    assert head == f"/*! linger preview src:{src_stamp()} */", "static/admin/preview.js is stale: run `make widget`"


def test_bundle_is_within_budget() -> None:
    import gzip

    data = (ROOT / "static" / "widget.js").read_bytes()
    assert len(gzip.compress(data, 9)) <= 12 * 1024
