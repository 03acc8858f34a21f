"""config.toml validation, env overrides, and docs for every key."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from server import config
from server.config import ConfigError

ROOT = Path(__file__).resolve().parents[2]
SITE = {"key": "demo", "origins": ["http://127.0.0.1:8000"]}


def doc(**sections: Any) -> dict[str, Any]:
    return {"sites": [SITE], **sections}


def test_shipped_config_loads() -> None:
    cfg = config.load(ROOT / "config.toml", env={})
    assert cfg.server.port == 8000 and cfg.redis.url == ""
    assert cfg.sites["demo"].origins == ("http://127.0.0.1:8000", "http://localhost:8000")
    assert cfg.timing.session_timeout_s == 1800 and cfg.timing.leave_grace_s == 30
    assert cfg.data_dir == (ROOT / "var").resolve()


def test_defaults() -> None:
    cfg = config.load(doc=doc(), env={})
    for s in config.SETTINGS:
        assert cfg.get(s.name) == s.check(s.default)
    site = cfg.sites["demo"]
    for s in config.SITE_SETTINGS:  # Site's defaults come from the same table
        if s.default is not None and s.name not in ("sites[].name",):
            assert getattr(site, s.name.removeprefix("sites[].")) == s.check(s.default), s.name


def test_settings_are_typed_per_section() -> None:
    cfg = config.load(doc=doc(), env={})
    assert isinstance(cfg.timing.idle_after_ms, int) and isinstance(cfg.timing.leave_grace_s, float)
    assert isinstance(cfg.push.allowed_hosts, tuple) and isinstance(cfg.api.tokens, tuple)
    unitless = ("session_timeout", "leave_grace", "drain_seconds", "popup_gap")
    assert [s.name for s in config.SETTINGS + config.SITE_SETTINGS if s.name.split(".")[1] in unitless] == []


def test_names_from_before_units_were_added_still_work_with_a_warning() -> None:
    cfg = config.load(doc={"sites": [{**SITE, "popup_gap": 5}], "timing": {"leave_grace": 7},
                           "server": {"drain_seconds": 1}}, env={})
    assert cfg.timing.leave_grace_s == 7 and cfg.server.drain_s == 1 and cfg.sites["demo"].popup_gap_s == 5
    assert len(cfg.warnings) == 3 and "'sites[0].popup_gap' is now called 'sites[0].popup_gap_s'" in cfg.warnings[2]
    with pytest.raises(config.ConfigError, match="both 'timing.leave_grace' and its new name 'timing.leave_grace_s'"):
        config.load(doc=doc(timing={"leave_grace": 7, "leave_grace_s": 8}), env={})


BAD = [
    (doc(server={"prot": 1}), "config: unknown key 'server.prot' (known in this section: server.host, "),
    (doc(nonsense={"a": 1}), "config: unknown key 'nonsense.a'"),
    (doc(server=3), "config: 'server' must be a table like [server]"),
    (doc(server={"port": "80"}), "config: server.port must be an integer, got '80'"),
    (doc(server={"port": 70000}), "config: server.port must be between 0 and 65535, got 70000"),
    (doc(server={"log_level": "loud"}), "config: server.log_level must be one of debug, info, warning, error"),
    (doc(redis={"url": "http://x"}), "config: redis.url is not a redis://, rediss:// or unix:// URL that parses"),
    (doc(redis={"url": "redis://:pa/ss@h:6379/0"}), "config: redis.url is not a redis://, rediss:// or unix:// URL "
     "that parses (redis://:***@h:6379/0)"),
    (doc(timing={"leave_grace_s": True}), "config: timing.leave_grace_s must be a number, got True"),
    (doc(timing={"idle_after_ms": 10}), "config: timing.idle_after_ms must be between 50 and 86400000, got 10"),
    (doc(api={"tokens": ["a-plain-string-token-0123"]}), "config: api.tokens[0] must be a table with token, sites"),
    (doc(api={"tokens": "abc"}), "config: api.tokens must be a list of tables like { token = "),
    (doc(api={"tokens": [{"token": "short", "sites": ["demo"]}]}), "config: api.tokens[0].token must be 16-200"),
    (doc(api={"tokens": [{"token": "x" * 20}]}), 'config: api.tokens[0].sites must list site keys, or ["*"]'),
    (doc(api={"tokens": [{"token": "x" * 20, "sites": ["other"]}]}),
     "config: api.tokens[0].sites names unknown site 'other' (sites: demo)"),
    (doc(api={"tokens": [{"token": "x" * 20, "sites": ["*"]}, {"token": "x" * 20, "sites": ["*"]}]}),
     "config: api.tokens[1].token is listed twice"),
    (doc(api={"tokens": [{"token": config.DEMO_TOKEN, "sites": ["demo"]}]}, server={"host": "0.0.0.0"}),
     "config: api.tokens[0].token is the published demo token 'demo-token-change-me' and server.host is "
     "'0.0.0.0', not a loopback address"),
    (doc(redis={"maxmemory": "lots"}), 'config: redis.maxmemory must be a size like "1gb"'),
    (doc(push={"allowed_hosts": ["https://fcm.googleapis.com"]}), "config: push.allowed_hosts must be a list of host"),
    (doc(server={"gc_thresholds": [1, 2]}), "config: server.gc_thresholds must be three non-negative integers"),
    (doc(exit={"back": "yes"}), "config: exit.back must be true or false, got 'yes'"),
    ({}, "config: sites must have at least one [[sites]] table"),
    ({"sites": [{"key": "a"}]}, "config: sites[0].origins is required"),
    ({"sites": [{**SITE, "colour": "red"}]}, "config: unknown key 'sites[0].colour'"),
    ({"sites": [{**SITE, "origins": ["shop.example"]}]}, "config: sites[0].origins has the wrong form"),
    ({"sites": [{**SITE, "origins": []}]}, "config: sites[0].origins must list at least one value"),
    ({"sites": [SITE, SITE]}, "config: sites[1].key 'demo' is used twice"),
    ({"sites": [{**SITE, "key": "has space"}]}, "config: sites[0].key has the wrong form"),
]


@pytest.mark.parametrize(("d", "message"), BAD, ids=[b[1][8:50] for b in BAD])
def test_bad_config_names_the_key(d: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        config.load(doc=d, env={})
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)


def test_tokens_are_scoped_to_sites_and_the_demo_token_only_on_loopback() -> None:
    two = {"sites": [SITE, {"key": "other", "origins": ["https://other.example"]}]}
    cfg = config.load(doc={**two, "api": {"tokens": [
        {"token": "t" * 20, "sites": ["demo"], "name": "crm-sync"}, {"token": "u" * 20, "sites": ["*"]}]}}, env={})
    crm, admin = cfg.api.tokens
    assert crm.name == "crm-sync" and crm.allows("demo") and not crm.allows("other")
    assert admin.name == "token 2" and admin.allows("other")
    assert config.load(doc=doc(), env={}).api.tokens == ()  # no [api]: no token at all, not the demo one
    demo = {"tokens": [{"token": config.DEMO_TOKEN, "sites": ["demo"]}]}
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        config.load(doc=doc(api=demo, server={"host": host}), env={})
    with pytest.raises(ConfigError, match="published demo token"):
        config.load(doc=doc(api=demo), env={"LINGER_HOST": "192.168.1.10"})


def test_demo_token_off_loopback_stops_the_server(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[server]\nhost = "0.0.0.0"\n[[api.tokens]]\ntoken = "demo-token-change-me"\nsites = ["a"]\n'
                   '[[sites]]\nkey="a"\norigins=["http://a"]\n')
    r = subprocess.run([sys.executable, "-m", "server", "run", "--config", str(cfg)], cwd=ROOT,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "api.tokens[0].token is the published demo token" in r.stderr


def test_env_overrides() -> None:
    cfg = config.load(doc=doc(), env={"LINGER_PORT": "9001", "LINGER_REDIS_URL": "redis://r:6379/2",
                                      "LINGER_HOST": "0.0.0.0", "LINGER_DATA_DIR": "/srv/linger"})
    assert cfg.server.port == 9001 and cfg.redis.url == "redis://r:6379/2"
    assert cfg.server.host == "0.0.0.0" and cfg.data_dir == Path("/srv/linger")
    with pytest.raises(ConfigError, match="server.port must be an integer, got 'eighty'"):
        config.load(doc=doc(), env={"LINGER_PORT": "eighty"})


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        config.load(tmp_path / "nope.toml", env={})
    bad = tmp_path / "bad.toml"
    bad.write_text("[server\nport=1")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        config.load(bad, env={})


def test_start_up_stops_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "c.toml"
    bad.write_text('[timing]\nidel_after_ms = 5\n[[sites]]\nkey="a"\norigins=["http://a"]\n')
    r = subprocess.run([sys.executable, "-m", "server", "run", "--config", str(bad)], cwd=ROOT,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "linger: config: unknown key 'timing.idel_after_ms' (known in this section: timing.session_timeout_s, "
        "timing.leave_grace_s, timing.idle_after_ms, timing.act_every_ms, timing.timer_tick_ms, "
        "timing.timers_per_tick)"]


def test_every_key_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `([a-z_\[\]]+\.[a-z_]+)` \|", readme, re.M))
    expected = {s.name for s in config.SETTINGS + config.SITE_SETTINGS}
    assert expected - documented == set(), "keys missing from README.md's configuration table"
    assert documented - expected == set(), "README.md documents keys that do not exist"


def test_check_config_shows_renamed_keys(tmp_path: Path) -> None:
    old = tmp_path / "c.toml"
    old.write_text('[timing]\nleave_grace = 5\n[[sites]]\nkey="a"\norigins=["http://a"]\n')
    r = subprocess.run([sys.executable, "-m", "server", "check-config", "--config", str(old)], cwd=ROOT,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0
    assert "warning: config: 'timing.leave_grace' is now called 'timing.leave_grace_s'" in r.stdout


FOLLOWUP_BAD = [
    ({"push": {"vapid_sub": "mailto:ops@localhost"}}, "push.vapid_sub is a mailto: on localhost"),
    ({"email": {"from": "Shop <shop@127.0.0.1>"}}, "push.vapid_sub (taken from email.from) is a mailto: on localhost"),
    ({"push": {"vapid_sub": "ops@example.com"}}, "push.vapid_sub must be a mailto: or https: URL"),
    ({"email": {"from": "Shop\nBcc: x@y.example"}}, "email.from must be an address"),
    ({"sites": [{**SITE, "followups": {"email_after_s": [1, 2, 3, 4]}}]}, "email_after_s must list at most 3"),
    ({"sites": [{**SITE, "followups": {"push_after_s": [0]}}]}, "push_after_s must list at most 3 delays"),
    ({"sites": [{**SITE, "followups": {"quiet_hours": [22]}}]}, "quiet_hours must be [] or [from, to]"),
    ({"sites": [{**SITE, "followups": {"pushafter": [1]}}]}, ".pushafter is not a follow-up setting"),
    ({"sites": [{**SITE, "followups": {"urgency": "now"}}]}, ".urgency must be one of very-low, low, normal, high"),
]


@pytest.mark.parametrize("extra,message", FOLLOWUP_BAD)
def test_follow_up_settings_are_checked(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as e:
        config.load(doc={**doc(), **extra}, env={})
    assert message in str(e.value)


def test_follow_up_settings_load() -> None:
    cfg = config.load(doc={**doc(email={"from": "Shop <shop@shop.example>"}), "sites": [
        {**SITE, "followups": {"push_after_s": [], "email_after_s": [60, 120], "quiet_hours": [21, 8]}}]}, env={})
    f = cfg.sites["demo"].followups
    assert f.push_after_s == () and f.email_after_s == (60.0, 120.0) and f.quiet_hours == (21, 8)
    assert cfg.vapid_sub() == "mailto:shop@shop.example" and cfg.email.from_ == "Shop <shop@shop.example>"


def test_contrast_ratios_of_the_editor() -> None:
    from server.http.admin.forms import contrast, readability

    assert contrast("#ffffff", "#000000") == 21.0 and contrast("#777", "#777") == 1.0
    assert contrast("red", "#fff") is None
    assert readability({"bg": "#ffffff", "fg": "#cccccc", "accent": "#1f3b2d"}) == [
        ("Text on background", 1.61, False), ("Button text on accent", 12.2, True)]
