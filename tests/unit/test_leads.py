"""Lead rules, table-style: email validation, consent modes, merging, formula-safe CSV cells."""

from __future__ import annotations

import pytest

from server.core.leads import csv_cell, may_capture, merge_lead, normalize_email

EMAILS = [
    ("Ada@Example.COM", "ada@example.com"),
    ("  ada+shop@mail.example.co.uk ", "ada+shop@mail.example.co.uk"),
    ("o'neil@example.ie", "o'neil@example.ie"),
    ("x@xn--bcher-kva.example", "x@xn--bcher-kva.example"),
    ("a@b", None),
    ("a@b.c", None),
    ("two@@example.com", None),
    ("no-at.example.com", None),
    ("sp ace@example.com", None),
    (".dot@example.com", None),
    ("dot.@example.com", None),
    ("do..t@example.com", None),
    ("x@-bad.com", None),
    ("x@bad-.com", None),
    ("x@exa_mple.com", None),
    ("x@example.c0m", None),
    ("a" * 65 + "@example.com", None),
    ("x@" + "a" * 250 + ".com", None),
    ("<script>@example.com", None),
]


@pytest.mark.parametrize(("raw", "want"), EMAILS)
def test_normalize_email(raw: str, want: str | None) -> None:
    assert normalize_email(raw) == want


CONSENT = [
    # mode, source, consent, submitted, gpc, a form popup open for this session -> captured
    ("live", "field", False, False, False, False, True),
    ("live", "field", False, False, True, False, False),
    ("live", "field", False, True, True, False, True),
    ("consent", "field", False, False, False, False, False),
    ("consent", "field", True, False, False, False, True),
    ("consent", "field", False, True, False, False, True),
    ("consent", "field", True, False, True, False, False),
    ("off", "field", True, True, False, False, False),
    ("off", "popup", False, False, False, True, True),
    ("off", "popup", False, False, True, True, True),
    ("consent", "popup", False, False, False, True, True),
    # source "popup" with no form popup open is a forgery: it cannot skip the mode or GPC
    ("off", "popup", False, True, False, False, False),
    ("live", "popup", True, True, False, False, False),
    ("consent", "popup", True, True, True, False, False),
]


@pytest.mark.parametrize(("mode", "source", "consent", "submitted", "gpc", "form", "captured"), CONSENT)
def test_consent_rules(mode: str, source: str, consent: bool, submitted: bool, gpc: bool, form: bool,
                       captured: bool) -> None:
    ok, why = may_capture(mode, source, consent, submitted, gpc, form)
    assert ok is captured and why


def cap(vid: str, at: float, consent: bool = False, **kw: object) -> dict[str, object]:
    return {"email": "a@b.co", "site": "demo", "vid": vid, "at": at, "source": kw.get("source", "field"),
            "field": "email", "consent": consent, "consent_text": kw.get("text", ""), "temperature": "hot",
            "cart": {"total": at}, "campaign": kw.get("campaign")}


def test_merge_dedupes_and_keeps_first_consent() -> None:
    lead = merge_lead(None, cap("v1", 1.0))
    assert lead["vids"] == ["v1"] and lead["first_seen"] == 1.0 and lead["consent"]["given"] is False
    lead = merge_lead(lead, cap("v1", 2.0, consent=True, text="Offers please"))
    lead = merge_lead(lead, cap("v2", 3.0, consent=True, text="Other wording", source="popup", campaign="w"))
    lead = merge_lead(lead, cap("v2", 4.0))
    assert lead["vids"] == ["v1", "v2"] and lead["captures"] == 4 and lead["last_seen"] == 4.0
    assert lead["consent"] == {"given": True, "at": 2.0, "text": "Offers please"}
    assert lead["source"] == "field" and lead["last_source"] == "field" and lead["campaign"] == "w"
    assert lead["cart"] == {"total": 4.0}


@pytest.mark.parametrize(("value", "cell"), [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("ada@example.com", "ada@example.com"), (None, ""), (12.5, "12.5"),
])
def test_csv_cells_cannot_be_formulas(value: object, cell: str) -> None:
    assert csv_cell(value) == cell
