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
    assert cfg["server.port"] == 8000 and cfg["redis.url"] == ""
    assert cfg.sites["demo"].origins == ("http://127.0.0.1:8000", "http://localhost:8000")
    assert cfg["timing.session_timeout"] == 1800 and cfg["timing.leave_grace"] == 30
    assert cfg.data_dir == (ROOT / "var").resolve()


def test_defaults() -> None:
    cfg = config.load(doc=doc(), env={})
    for s in config.SETTINGS:
        assert cfg[s.name] == s.check(s.default)


BAD = [
    (doc(server={"prot": 1}), "config: unknown key 'server.prot' (known in this section: server.host, "),
    (doc(nonsense={"a": 1}), "config: unknown key 'nonsense.a'"),
    (doc(server=3), "config: 'server' must be a table like [server]"),
    (doc(server={"port": "80"}), "config: server.port must be an integer, got '80'"),
    (doc(server={"port": 70000}), "config: server.port must be between 0 and 65535, got 70000"),
    (doc(server={"log_level": "loud"}), "config: server.log_level must be one of debug, info, warning, error"),
    (doc(redis={"url": "http://x"}), "config: redis.url has the wrong form: 'http://x'"),
    (doc(timing={"leave_grace": True}), "config: timing.leave_grace must be a number, got True"),
    (doc(timing={"idle_after_ms": 10}), "config: timing.idle_after_ms must be between 50 and 86400000, got 10"),
    (doc(api={"tokens": ["short"]}), "config: api.tokens has the wrong form: 'short'"),
    (doc(api={"tokens": "abc"}), "config: api.tokens must be a list of strings"),
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


def test_env_overrides() -> None:
    cfg = config.load(doc=doc(), env={"LINGER_PORT": "9001", "LINGER_REDIS_URL": "redis://r:6379/2",
                                      "LINGER_HOST": "0.0.0.0", "LINGER_DATA_DIR": "/srv/linger"})
    assert cfg["server.port"] == 9001 and cfg["redis.url"] == "redis://r:6379/2"
    assert cfg["server.host"] == "0.0.0.0" and cfg.data_dir == Path("/srv/linger")
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
        "linger: config: unknown key 'timing.idel_after_ms' (known in this section: timing.session_timeout, "
        "timing.leave_grace, timing.idle_after_ms, timing.act_every_ms, timing.timer_tick_ms)"]


def test_every_key_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `([a-z_\[\]]+\.[a-z_]+)` \|", readme, re.M))
    expected = {s.name for s in config.SETTINGS + config.SITE_SETTINGS}
    assert expected - documented == set(), "keys missing from README.md's configuration table"
    assert documented - expected == set(), "README.md documents keys that do not exist"
