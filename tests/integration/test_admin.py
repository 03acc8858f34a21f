"""The merchant admin over HTTP against a real server: sign-in, sessions, CSRF and Origin checks,
roles, lock-out, the audit log, headers, and shopper or merchant text rendered inert."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from tests.support import FAST, ROOT, Server, call

pytestmark = pytest.mark.integration
PASSWORD = "demo-password-change-me"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = Server(tmp_path_factory.mktemp("admin"), FAST | {"admin": {"attempts_per_account": 3}},
               site={"seed_campaigns": str(ROOT / "server" / "demo_campaigns.toml")},
               more_sites=[{"key": "other", "name": "Other shop", "origins": ["https://other.example"]}]).start()
    yield s
    s.stop()


OPEN: list[httpx.Client] = []


@pytest.fixture(autouse=True)
def close_clients() -> Iterator[None]:
    yield
    while OPEN:
        OPEN.pop().close()


def client(srv: Server) -> httpx.Client:
    c = httpx.Client(base_url=srv.url, headers={"origin": srv.url}, timeout=10)
    OPEN.append(c)
    return c


def sign_in(srv: Server, email: str, password: str = PASSWORD) -> httpx.Client:
    c = client(srv)
    r = c.post("/admin/login", data={"email": email, "password": password, "next": "/admin"})
    assert r.status_code == 303, r.text
    return c


def csrf(page: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', page)
    assert m, "no CSRF token in the page"
    return m.group(1)


def test_a_visitor_who_is_not_signed_in_gets_the_sign_in_form(srv: Server) -> None:
    r = httpx.get(f"{srv.url}/admin/campaigns?site=demo", follow_redirects=True)
    assert r.status_code == 200 and r.url.path == "/admin/login"
    assert 'name="email"' in r.text and 'name="password"' in r.text
    h = r.headers
    csp = h["content-security-policy"]
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp and h["x-content-type-options"] == "nosniff"


def test_sign_in_errors_are_next_to_the_field_and_the_cookie_is_strict(srv: Server) -> None:
    c = client(srv)
    r = c.post("/admin/login", data={"email": "merchant@demo.example", "password": ""})
    assert r.status_code == 400 and 'id="password-error"' in r.text and "Enter your password." in r.text
    assert 'value="merchant@demo.example"' in r.text  # what was typed stays
    r = c.post("/admin/login", data={"email": "merchant@demo.example", "password": PASSWORD})
    cookie = r.headers["set-cookie"].lower()
    assert r.status_code == 303 and "httponly" in cookie and "samesite=lax" in cookie and "max-age" not in cookie
    assert "Campaigns" in c.get("/admin/campaigns?site=demo").text


def test_a_forged_post_fails_and_changes_nothing(srv: Server) -> None:
    c = sign_in(srv, "merchant@demo.example")
    page = c.get("/admin/campaigns?site=demo").text
    no_token = c.post("/admin/campaigns/welcome15/status?site=demo", data={"status": "paused"})
    assert no_token.status_code == 403
    other_origin = c.post("/admin/campaigns/welcome15/status?site=demo", data={"status": "paused", "csrf": csrf(page)},
                          headers={"origin": "https://evil.example"})
    assert other_origin.status_code == 403
    assert call(srv, "GET", "/api/v1/campaigns/welcome15?site=demo").json()["status"] == "live"


def test_a_merchant_pauses_a_campaign_and_it_is_audited(srv: Server) -> None:
    c = sign_in(srv, "merchant@demo.example")
    page = c.get("/admin/campaigns?site=demo").text
    r = c.post("/admin/campaigns/product-hint/status?site=demo", data={"status": "paused", "csrf": csrf(page)})
    assert r.status_code == 303
    assert call(srv, "GET", "/api/v1/campaigns/product-hint?site=demo").json()["status"] == "paused"
    audit = c.get("/admin/audit?site=demo").text
    assert "merchant@demo.example" in audit and "campaign.saved" in audit and "product-hint" in audit
    api = call(srv, "GET", "/api/v1/audit?site=demo").json()["entries"]
    assert api[0]["who"] == "merchant@demo.example" and api[0]["before"]["status"] == "live"
    assert api[0]["after"]["status"] == "paused"
    c.post("/admin/campaigns/product-hint/status?site=demo", data={"status": "live", "csrf": csrf(page)})


def test_roles_ops_cannot_change_campaigns_and_nobody_sees_another_sites(srv: Server) -> None:
    ops = sign_in(srv, "ops@demo.example")
    page = ops.get("/admin/campaigns?site=demo").text
    assert "Pause" not in page  # no controls it may not use
    r = ops.post("/admin/campaigns/welcome15/status?site=demo", data={"status": "paused", "csrf": csrf(page)})
    assert r.status_code == 403 and "Not allowed" in r.text
    merchant = sign_in(srv, "merchant@demo.example")
    assert merchant.get("/admin/campaigns?site=other").status_code == 404
    admin = sign_in(srv, "admin@demo.example")
    assert admin.get("/admin/campaigns?site=other").status_code == 200


def test_too_many_failures_lock_the_account_with_a_clear_message(srv: Server) -> None:
    c = client(srv)
    for who in ("admin2@demo.example", "nobody@demo.example"):  # an unknown account locks the same way
        for _ in range(3):
            r = c.post("/admin/login", data={"email": who, "password": "wrong-password"})
            assert r.status_code == 400 and "Wrong email or password." in r.text
    r = c.post("/admin/login", data={"email": "nobody@demo.example", "password": PASSWORD})
    assert r.status_code == 429 and "Too many failed sign-ins for this account. Try again in" in r.text


def test_sign_out_ends_the_session_for_good(srv: Server) -> None:
    c = sign_in(srv, "admin@demo.example")
    page = c.get("/admin/campaigns?site=demo").text
    stolen = c.cookies.get("linger_session")
    assert c.post("/admin/logout", data={"csrf": csrf(page)}).status_code == 303
    again = httpx.get(f"{srv.url}/admin/campaigns?site=demo", cookies={"linger_session": stolen})
    assert again.status_code == 303  # the old cookie no longer opens anything
    forged = httpx.get(f"{srv.url}/admin/campaigns?site=demo", cookies={"linger_session": "x" + stolen})
    assert forged.status_code == 303


def test_merchant_text_is_rendered_inert(srv: Server) -> None:
    evil = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    body = {"id": "xss", "name": evil, "kind": "custom", "status": "paused", "trigger": {"delay_s": 5},
            "variants": [{"content": {"headline": evil}}]}
    assert call(srv, "POST", "/api/v1/campaigns?site=demo", body).status_code == 201
    c = sign_in(srv, "merchant@demo.example")
    for path in ("/admin/campaigns?site=demo", "/admin/audit?site=demo"):
        page = c.get(path).text
        assert "<script>alert(1)" not in page and "<img src=x" not in page
        assert "&lt;script&gt;" in page or "\\u003cscript\\u003e" in page  # shown, escaped
    call(srv, "DELETE", "/api/v1/campaigns/xss?site=demo")


def test_the_command_line_adds_accounts(srv: Server) -> None:
    r = subprocess.run([sys.executable, "-m", "server", "user", "add", "new@shop.example", "--role", "merchant",
                        "--sites", "other", "--password-stdin", "--config", str(srv.config)], cwd=ROOT,
                       input="a-long-password\n", capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "added new@shop.example (merchant, sites: other)" in r.stdout
    c = sign_in(srv, "new@shop.example", "a-long-password")
    assert c.get("/admin").headers["location"] == "/admin/campaigns?site=other"
    short = subprocess.run([sys.executable, "-m", "server", "user", "add", "x@shop.example", "--password-stdin",
                            "--config", str(srv.config)], cwd=ROOT, input="short\n", capture_output=True, text=True,
                           timeout=30)
    assert short.returncode == 2 and "password: Use at least 10 characters." in short.stderr


def test_version_history_shows_what_changed_and_restores_a_version(srv: Server) -> None:
    c = sign_in(srv, "merchant@demo.example")
    page = c.get("/admin/campaigns?site=demo").text
    original = call(srv, "GET", "/api/v1/campaigns/checkout-help?site=demo").json()
    for priority in (41, 42):  # two saved versions
        call(srv, "PUT", "/api/v1/campaigns/checkout-help?site=demo", {**original, "priority": priority})
    c.post("/admin/campaigns/checkout-help/status?site=demo", data={"status": "paused", "csrf": csrf(page)})
    history = c.get("/admin/campaigns/checkout-help/history?site=demo").text
    assert "<code>priority</code>" in history and "<code>status</code>" in history
    versions = re.findall(r'name="version" value="([^"]+)"', history)
    assert len(versions) >= 2
    r = c.post("/admin/campaigns/checkout-help/history?site=demo", data={"csrf": csrf(history), "version": versions[1]})
    assert r.status_code == 303
    now = call(srv, "GET", "/api/v1/campaigns/checkout-help?site=demo").json()
    assert now["priority"] == 41 and now["status"] == "paused"  # the version's content, the current status
    assert "restored a version" in c.get("/admin/audit?site=demo").text
    ops = sign_in(srv, "ops@demo.example")
    denied = ops.post("/admin/campaigns/checkout-help/history?site=demo",
                      data={"csrf": csrf(ops.get("/admin/campaigns?site=demo").text), "version": versions[0]})
    assert denied.status_code == 403
    call(srv, "PUT", "/api/v1/campaigns/checkout-help?site=demo", original)


def test_duplicate_and_reorder(srv: Server) -> None:
    c = sign_in(srv, "merchant@demo.example")
    page = c.get("/admin/campaigns/new?site=demo&from=product-hint").text
    assert "(copy)" in page and 'value="draft" selected' in page
    order = lambda: [x["id"] for x in sorted(call(srv, "GET", "/api/v1/campaigns?site=demo").json()["campaigns"],  # noqa: E731
                                             key=lambda x: (-x["priority"], x["id"]))]
    before = order()
    last = before[-1]
    r = c.post(f"/admin/campaigns/{last}/move?site=demo", data={"to": "up", "csrf": csrf(page)})
    assert r.status_code == 303
    after = order()
    assert after.index(last) == len(before) - 2 and len(after) == len(before)


def test_the_funnel_counts_each_session_once_per_step(srv: Server) -> None:
    from tests.support import open_session, send

    for _ in range(2):
        ws, ready = open_session(srv, url=f"{srv.url}/demo", kind="home")
        with ws:
            for kind, path in (("product", "/demo/p/1"), ("cart", "/demo/cart"), ("product", "/demo/p/2")):
                send(ws, {"t": "page", "page": {"url": f"{srv.url}{path}", "kind": kind}})
            srv.wait_session(ready["sid"], lambda s: s["pages"] == 4)
    c = sign_in(srv, "merchant@demo.example")
    page = c.get("/admin/funnel?site=demo&days=1").text
    rows = dict(re.findall(r'<th scope="row">([^<]+)</th>\s*<td class="num">(\d+)</td>', page))
    assert int(rows["The home page"]) >= 2 and int(rows["A product page"]) >= 2 and int(rows["The cart"]) >= 2
    assert "The most shoppers are lost between" in page or "No step loses" in page


def test_settings_show_the_config_and_a_webhook_test_is_signed_and_logged(tmp_path_factory: pytest.TempPathFactory
                                                                          ) -> None:
    from tests.integration.test_webhooks import SECRET, Receiver
    from tests.support import wait_for

    hook = Receiver()
    srv = Server(tmp_path_factory.mktemp("settings"), FAST | {"webhooks": {"poll_ms": 20}},
                 site={"webhooks": [{"url": hook.url, "secret": SECRET, "events": ["purchase"]}]}).start()
    try:
        c = sign_in(srv, "merchant@demo.example")
        page = c.get("/admin/settings?site=demo").text
        assert "config.toml" in page and "EUR" in page and "127.0.0.1" in page and SECRET not in page
        assert c.post("/admin/settings?site=demo", data={"csrf": csrf(page), "webhook": "0"}).status_code == 200
        wait_for(lambda: hook.events("test"), timeout=10)
        assert hook.events("test")[0]["data"]["sent_by"] == "merchant@demo.example"
        log = wait_for(lambda: "delivered" in c.get("/admin/settings?site=demo").text, timeout=10)
        assert log
        ops = sign_in(srv, "ops@demo.example")
        denied = ops.post("/admin/settings?site=demo",
                          data={"csrf": csrf(ops.get("/admin/settings?site=demo").text), "webhook": "0"})
        assert denied.status_code == 403
    finally:
        srv.stop()
        hook.http.shutdown()
        hook.http.server_close()


def form_fields(page: str) -> list[tuple[str, str]]:
    """What a browser would submit for the editor form as the page shows it."""
    import html

    body = page[page.index('<form method="post" action="/admin/campaigns/'):]
    body = body[:body.index("</form>")]
    data = []
    for m in re.finditer(r"<(input|select|textarea)([^>]*)>", body):
        tag, attrs = m.group(1), m.group(2)
        name = re.search(r'name="([^"]+)"', attrs)
        if not name:
            continue
        key = html.unescape(name.group(1))
        if tag == "input":
            if 'type="checkbox"' in attrs:
                if " checked" in attrs:
                    data.append((key, "on"))
                continue
            val = re.search(r'value="([^"]*)"', attrs)
            data.append((key, html.unescape(val.group(1)) if val else ""))
        elif tag == "select":
            end = body.index("</select>", m.end())
            sel = re.search(r'<option value="([^"]*)" selected', body[m.end():end])
            data.append((key, html.unescape(sel.group(1)) if sel else ""))
        else:
            end = body.index("</textarea>", m.end())
            data.append((key, html.unescape(body[m.end():end]).replace("\n", "\r\n")))  # as browsers send it
    return data


def test_an_unchanged_form_saves_an_identical_campaign(srv: Server) -> None:
    odd = {"id": "odd", "name": "  padded name  ", "kind": "custom", "status": "paused", "priority": 3,
           "start": 1800000030.5, "end": 1800000100.25, "trigger": {"delay_s": 5},
           "target": {"url_include": ["/p?a=1,2", "/x"], "lang": [" de", "en"]},
           "variants": [{"id": "a", "content": {"headline": "Hi", "body": "line1\nline2",
                                                 "form": {"email": False, "button": "Go"}}}]}
    assert call(srv, "PUT", "/api/v1/campaigns/odd?site=demo", odd).status_code == 201
    before = call(srv, "GET", "/api/v1/campaigns/odd?site=demo").json()
    c = sign_in(srv, "merchant@demo.example")
    page = c.get("/admin/campaigns/odd/edit?site=demo").text
    r = c.post("/admin/campaigns/odd/edit?site=demo", data=dict(form_fields(page)) | {"action": "save"})
    assert r.status_code == 303, re.findall(r'class="error"[^>]*>([^<]+)', r.text)
    after = call(srv, "GET", "/api/v1/campaigns/odd?site=demo").json()
    assert after == before
    call(srv, "DELETE", "/api/v1/campaigns/odd?site=demo")


def test_a_new_campaign_never_replaces_an_existing_one(srv: Server) -> None:
    c = sign_in(srv, "merchant@demo.example")
    page = c.get("/admin/campaigns/new?site=demo&template=bar").text
    data = dict(form_fields(page)) | {"action": "save", "id": "welcome-back"}
    r = c.post("/admin/campaigns/new?site=demo", data=data)
    assert r.status_code == 422 and "A campaign with this id exists" in r.text
    again = dict(form_fields(r.text)) | {"action": "save", "id": "my-new-bar"}  # the error's own advice
    assert c.post("/admin/campaigns/new?site=demo", data=again).status_code == 303
    kept = call(srv, "GET", "/api/v1/campaigns/welcome-back?site=demo").json()
    assert kept["name"] == "Tab return: your cart is saved"
    assert call(srv, "GET", "/api/v1/campaigns/my-new-bar?site=demo").status_code == 200
    assert c.post("/admin/campaigns/nosuch/edit?site=demo", data=again).status_code == 404  # edit never creates
    call(srv, "DELETE", "/api/v1/campaigns/my-new-bar?site=demo")


def test_list_item_errors_show_at_the_list_and_odd_preview_variants_are_harmless(srv: Server) -> None:
    c = sign_in(srv, "merchant@demo.example")
    page = c.get("/admin/campaigns/product-hint/edit?site=demo").text
    data = dict(form_fields(page)) | {"action": "save", "target.page_kinds": "home\r\nbogus"}
    r = c.post("/admin/campaigns/product-hint/edit?site=demo", data=data)
    assert r.status_code == 422 and 'id="f-target-page_kinds-error"' in r.text
    odd = dict(form_fields(page)) | {"action": "preview_store", "preview_variant": "²"}
    r = c.post("/admin/campaigns/product-hint/edit?site=demo", data=odd)
    assert r.status_code == 200 and "Preview ready" in r.text


def test_a_password_change_ends_older_sessions(srv: Server) -> None:
    c = sign_in(srv, "admin@demo.example")
    assert c.get("/admin/campaigns?site=demo").status_code == 200
    r = subprocess.run([sys.executable, "-m", "server", "user", "passwd", "admin@demo.example", "--password-stdin",
                        "--config", str(srv.config)], cwd=ROOT, input=PASSWORD + "\n", capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert c.get("/admin/campaigns?site=demo").status_code == 303  # to the sign-in form


def test_a_burst_of_parallel_guesses_meets_the_lock_out(srv: Server) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def guess(_: int) -> int:
        with httpx.Client(base_url=srv.url, headers={"origin": srv.url}, timeout=30) as c:
            return c.post("/admin/login", data={"email": "burst@demo.example", "password": "wrong"}).status_code

    with ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(guess, range(12)))
    assert codes.count(400) <= 3 and codes.count(429) >= 9  # attempts_per_account is 3 here
    assert httpx.get(f"{srv.url}/healthz", timeout=5).status_code == 200


def test_erasing_a_lead_through_the_api_is_audited_without_the_address(srv: Server) -> None:
    from tests.support import next_msg, open_session, send

    ws, _ = open_session(srv)
    with ws:
        send(ws, {"t": "email", "id": "e1", "email": "gone@example.com", "source": "field", "field": "email",
                  "consent": True})
        assert next_msg(ws, "ack")["id"] == "e1"
    assert call(srv, "DELETE", "/api/v1/leads/gone@example.com?site=demo").status_code == 200
    entry = call(srv, "GET", "/api/v1/audit?site=demo").json()["entries"][0]
    assert entry["what"] == "lead.erased" and "gone@example.com" not in str(entry) and entry["after"]["lead"] == 1


def test_hostile_shopper_text_through_the_widget_is_inert_on_every_admin_page(srv: Server) -> None:
    from tests.support import hello as hello_frame
    from tests.support import next_msg, send

    evil = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    with srv.ws() as ws:
        send(ws, hello_frame(url="https://shop.example/p/<script>", kind="product") | {"lang": evil[:35]})
        next_msg(ws, "ready")
        send(ws, {"t": "page", "page": {"url": "https://shop.example/cart", "title": evil, "kind": "cart"}})
        send(ws, {"t": "cart", "items": [{"id": "x", "name": evil, "price": 1, "qty": 1}], "total": 1})
        send(ws, {"t": "email", "id": "e1", "email": "xss@example.com", "source": "field", "field": evil[:100],
                  "consent": True, "consent_text": evil})
        next_msg(ws, "ack")
    c = sign_in(srv, "admin@demo.example")
    for path in ("/admin/campaigns?site=demo", "/admin/audit?site=demo", "/admin/funnel?site=demo",
                 "/admin/settings?site=demo", "/admin/campaigns/welcome15/edit?site=demo",
                 "/admin/campaigns/welcome15/results?site=demo", "/admin/campaigns/welcome15/history?site=demo"):
        page = c.get(path).text
        assert "<script>alert" not in page and "<img src=x" not in page and "onerror=alert(2)>" not in page, path


def test_an_archived_campaign_leaves_the_list_and_the_store_and_keeps_its_results(srv: Server) -> None:
    c = sign_in(srv, "merchant@demo.example")
    page = c.get("/admin/campaigns?site=demo").text
    assert c.post("/admin/campaigns/welcome-back/status?site=demo",
                  data={"status": "archived", "csrf": csrf(page)}).status_code == 303
    listed = c.get("/admin/campaigns?site=demo").text
    assert "welcome-back" not in re.findall(r'<span class="id">([^<]+)</span>', listed)
    assert "Archived campaigns (1)" in listed
    assert "welcome-back" in c.get("/admin/campaigns?site=demo&archived=1").text
    assert c.get("/admin/campaigns/welcome-back/results?site=demo").status_code == 200
    c.post("/admin/campaigns/welcome-back/status?site=demo", data={"status": "live", "csrf": csrf(page)})


def test_api_tokens_made_in_the_admin_are_shown_once_scoped_to_the_site_and_revocable(srv: Server) -> None:
    c = sign_in(srv, "merchant@demo.example")
    page = c.get("/admin/tokens?site=demo").text
    bad = c.post("/admin/tokens?site=demo", data={"csrf": csrf(page), "name": "<script>"})
    assert bad.status_code == 422 and 'id="token-name-error"' in bad.text
    made = c.post("/admin/tokens?site=demo", data={"csrf": csrf(page), "name": "crm sync"}).text
    token = re.search(r'<code class="token">([^<]+)</code>', made).group(1)  # type: ignore[union-attr]
    auth = {"authorization": f"Bearer {token}"}
    assert httpx.get(f"{srv.url}/api/v1/sessions?site=demo", headers=auth).status_code == 200
    assert httpx.get(f"{srv.url}/api/v1/sessions?site=other", headers=auth).status_code == 403
    listed = c.get("/admin/tokens?site=demo").text
    assert token not in listed and token[-4:] in listed  # never shown again
    digest = re.search(r'name="revoke" value="([0-9a-f]+)"', listed).group(1)  # type: ignore[union-attr]
    c.post("/admin/tokens?site=demo", data={"csrf": csrf(listed), "revoke": digest})
    assert httpx.get(f"{srv.url}/api/v1/sessions?site=demo", headers=auth).status_code == 401
    audit = call(srv, "GET", "/api/v1/audit?site=demo").json()["entries"]
    assert [e["what"] for e in audit[:2]] == ["token.revoked", "token.added"] and token not in str(audit)
    ops = sign_in(srv, "ops@demo.example")
    assert ops.post("/admin/tokens?site=demo", data={"csrf": csrf(ops.get("/admin/tokens?site=demo").text),
                                                      "name": "x"}).status_code == 403


def test_a_stale_form_never_overwrites_a_newer_change(srv: Server) -> None:
    c = sign_in(srv, "merchant@demo.example")
    page = c.get("/admin/campaigns/checkout-help/edit?site=demo").text  # opened here...
    current = call(srv, "GET", "/api/v1/campaigns/checkout-help?site=demo").json()
    assert call(srv, "PUT", "/api/v1/campaigns/checkout-help?site=demo", {**current, "priority": 77}).status_code == 200
    stale = dict(form_fields(page)) | {"action": "save", "variants.0.content.headline": "Mine"}
    r = c.post("/admin/campaigns/checkout-help/edit?site=demo", data=stale)  # ...saved after the API's change
    assert r.status_code == 409 and "Someone changed this campaign after you opened it" in r.text
    kept = call(srv, "GET", "/api/v1/campaigns/checkout-help?site=demo").json()
    assert kept["priority"] == 77 and kept["variants"][0]["content"]["headline"] != "Mine"
    fresh = c.get("/admin/campaigns/checkout-help/edit?site=demo").text
    ok = dict(form_fields(fresh)) | {"action": "save"}
    assert c.post("/admin/campaigns/checkout-help/edit?site=demo", data=ok).status_code == 303
    call(srv, "PUT", "/api/v1/campaigns/checkout-help?site=demo", current)
