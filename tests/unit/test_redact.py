"""No secrets or shoppers' data in logs: passwords in URLs, query strings, email addresses."""

from __future__ import annotations

import logging

import pytest

from server.redact import RedactingFilter, redact_text, redact_url


@pytest.mark.parametrize(("url", "shown"), [
    ("redis://:s3cret@redis.internal:6379/0", "redis://:***@redis.internal:6379/0"),
    ("rediss://app:s3cret@redis.internal:6380/1", "rediss://app:***@redis.internal:6380/1"),
    ("redis://redis.internal:6379/0", "redis://redis.internal:6379/0"),
    ("https://crm.example/hook?token=abc", "https://crm.example/hook?…"),
    ("https://crm.example/hook#frag", "https://crm.example/hook#…"),
    ("unix:///var/run/redis.sock?password=x", "unix:///var/run/redis.sock?…"),
])
def test_urls_lose_passwords_and_queries(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_text_loses_emails_queries_and_passwords() -> None:
    text = ('erased ada.lovelace+shop@example.co.uk; GET /api/v1/leads?site=demo&email=x%40y.com HTTP/1.1; '
            'page https://shop.example/reset?token=abc; redis://:pw@h:1/0')
    out = redact_text(text)
    assert "ada.lovelace" not in out and "x%40y" not in out and "token=abc" not in out and ":pw@" not in out
    assert "/api/v1/leads?…" in out and "https://shop.example/reset?…" in out and "redis://:***@h:1/0" in out


def test_the_filter_keeps_uvicorns_access_arguments_as_a_tuple() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "DELETE", "/api/v1/leads/ada@example.com?site=demo", "1.1", 200),
                               None)
    assert RedactingFilter().filter(record)
    assert isinstance(record.args, tuple) and record.args[2] == "<email>?…"  # a "/" may be in an address
    other = logging.LogRecord("linger", logging.INFO, __file__, 1, "lead %s@%s", ("ada", "example.com"), None)
    RedactingFilter().filter(other)
    assert other.getMessage() == "lead <email>"


def test_passwords_with_slashes_are_redacted() -> None:
    assert redact_url("redis://:ab/cd+ef==@redis.internal:6379/0") == "redis://:***@redis.internal:6379/0"
    assert "ab/cd" not in redact_text("could not connect to redis://app:ab/cd@h:1/0 now")


def test_webhook_endpoints_are_shown_as_their_origin() -> None:
    from server.redact import redact_endpoint

    assert redact_endpoint("https://hooks.example/services/T0/B0/SECRET?x=1") == "https://hooks.example/…"
    assert redact_endpoint("https://user:pw@crm.example:8443/in") == "https://crm.example:8443/…"
