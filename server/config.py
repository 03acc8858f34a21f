"""config.toml -> frozen, validated settings.

Every key lives in SETTINGS (name, default, help, check); README.md documents each
one (tests/unit/test_config.py checks). A wrong key or value raises ConfigError with
one line naming the key. Environment variables override the main keys (ENV_OVERRIDES).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .config_checks import DEMO_TOKEN, ApiToken, ConfigError, Setting, Webhook, _vapid_sub
from .config_features import AdminSettings
from .config_fields import key_of
from .config_site import SITE_SETTINGS, Site
from .config_table import (
    ENV_OVERRIDES,
    RENAMED,
    SECTIONS,
    SETTINGS,
    ApiSettings,
    EmailSettings,
    ExitSettings,
    FollowupSettings,
    LimitSettings,
    PushSettings,
    RedisSettings,
    RetentionSettings,
    ServerSettings,
    TimingSettings,
    WebhookSettings,
)

__all__ = ["DEMO_TOKEN", "SETTINGS", "SITE_SETTINGS", "ApiToken", "Config", "ConfigError", "Setting", "Site",
           "Webhook", "docs_table", "is_loopback", "load"]


@dataclass(frozen=True)
class Config:
    """Validated settings, typed per section (config_table.py): `cfg.timing.idle_after_ms`."""

    server: ServerSettings
    redis: RedisSettings
    timing: TimingSettings
    limits: LimitSettings
    exit: ExitSettings
    webhooks: WebhookSettings
    api: ApiSettings
    retention: RetentionSettings
    push: PushSettings
    email: EmailSettings
    followups: FollowupSettings
    admin: AdminSettings
    sites: dict[str, Site]
    path: Path | None = None
    warnings: list[str] = field(default_factory=list)  # renamed keys still in use, and the like: logged at start

    def resolve(self, path: str) -> str:
        """A path from the config, relative to the config file's folder."""
        p = Path(path)
        if not p.is_absolute() and self.path is not None:
            p = self.path.parent / p
        return str(p)

    @property
    def vapid_key_path(self) -> Path:
        return Path(self.resolve(self.push.vapid_key_file)) if self.push.vapid_key_file else self.data_dir / "vapid.pem"

    @property
    def secret_path(self) -> Path:
        return Path(self.resolve(self.server.secret_file)) if self.server.secret_file else self.data_dir / "secret.key"

    def get(self, name: str) -> Any:
        """A setting by its dotted TOML name (for tools and docs; code uses the typed attributes)."""
        section, _, key = name.partition(".")
        group = getattr(self, section)
        return next(getattr(group, f.name) for f in fields(group) if key_of(f) == key)

    @property
    def public_url(self) -> str:
        """Base of links shoppers follow (emails, notifications), without a trailing slash."""
        return (self.server.public_url or f"http://{self.server.host}:{self.server.port}").rstrip("/")

    def cart_url(self, site: str) -> str:
        conf = self.sites[site]
        return conf.cart_url or f"{conf.origins[0]}/cart"

    def vapid_sub(self) -> str:
        from email.utils import parseaddr

        if self.push.vapid_sub:
            return self.push.vapid_sub
        address = parseaddr(self.email.from_)[1]
        return f"mailto:{address}" if address else f"{self.public_url}/"

    @property
    def data_dir(self) -> Path:
        d = Path(self.server.data_dir)
        if not d.is_absolute() and self.path is not None:
            d = self.path.parent / d
        return d.resolve()


def _sections(values: dict[str, Any]) -> dict[str, Any]:
    return {name: cls(**{f.name: values[f"{name}.{key_of(f)}"] for f in fields(cls)})
            for name, cls in SECTIONS.items()}


def _renamed(flat: dict[str, Any], where: str, warnings: list[str], label: str = "") -> dict[str, Any]:
    """Keys written under a name they had before their unit was in it, under the new one."""
    out = {}
    for k, v in flat.items():
        new = RENAMED.get(f"{where}{k}")
        if new is not None:
            new = new.removeprefix(where)
            warnings.append(f"config: '{label}{k}' is now called '{label}{new}' (the old name still works)")
            if new in flat:
                raise ConfigError(f"config: both '{label}{k}' and its new name '{label}{new}' are set: keep one")
            k = new
        out[k] = v
    return out


def _flatten(doc: dict[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for section, body in doc.items():
        if section == "sites":
            continue
        if not isinstance(body, dict):
            raise ConfigError(f"config: '{section}' must be a table like [{section}]")
        for k, v in body.items():
            flat[f"{section}.{k}"] = v
    return flat


def _coerce_env(name: str, raw: str) -> Any:
    default = next(s.default for s in SETTINGS if s.name == name)
    if isinstance(default, bool):
        return raw.lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            return raw
    return raw


def _check(setting: Setting, value: Any, where: str) -> Any:
    try:
        return setting.check(value)
    except ValueError as e:
        sep = "" if str(e).startswith("[") else " "
        raise ConfigError(f"config: {where}{sep}{e}") from None


def _sites(raw: Any, warnings: list[str]) -> dict[str, Site]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError("config: sites must have at least one [[sites]] table")
    known = {s.name.split(".", 1)[1]: s for s in SITE_SETTINGS}
    sites: dict[str, Site] = {}
    for n, body in enumerate(raw):
        if not isinstance(body, dict):
            raise ConfigError(f"config: sites[{n}] must be a table")
        body = _renamed(body, "sites[].", warnings, f"sites[{n}].")
        for k in body:
            if k not in known:
                raise ConfigError(f"config: unknown key 'sites[{n}].{k}' (known: {', '.join(known)})")
        vals = {}
        for k, s in known.items():
            if k not in body and s.default is None:
                raise ConfigError(f"config: sites[{n}].{k} is required")
            vals[k] = _check(s, body.get(k, s.default), f"sites[{n}].{k}")
        if vals["key"] in sites:
            raise ConfigError(f"config: sites[{n}].key {vals['key']!r} is used twice")
        vals["name"] = vals["name"] or vals["key"]
        vals["origins"] = tuple(o.rstrip("/").lower() for o in vals["origins"])
        sites[vals["key"]] = Site(**vals)
    return sites


def load(path: str | Path | None = None, *, overrides: dict[str, Any] | None = None,
         env: dict[str, str] | None = None, doc: dict[str, Any] | None = None) -> Config:
    """Load and validate a config. `doc` (already-parsed TOML) is for tests."""
    env = dict(os.environ) if env is None else env
    cfg_path = Path(path or env.get("LINGER_CONFIG") or "config.toml")
    if doc is None:
        try:
            doc = tomllib.loads(cfg_path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config: file not found: {cfg_path}") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"config: {cfg_path} is not valid TOML: {e}") from None
    warnings: list[str] = []
    raw_names = set(_flatten(doc)) | set(overrides or {})
    flat = _renamed(_flatten(doc), "", warnings)
    known = {s.name: s for s in SETTINGS}
    for k in flat:
        if k not in known:
            close = [n for n in known if n.split(".")[0] == k.split(".")[0]]
            hint = f" (known in this section: {', '.join(close)})" if close else ""
            raise ConfigError(f"config: unknown key '{k}'{hint}")
    for var, name in ENV_OVERRIDES.items():
        if env.get(var):
            flat[name] = _coerce_env(name, env[var])
    flat.update(_renamed(overrides or {}, "", warnings))
    written = {RENAMED[old]: old for old in RENAMED if old in raw_names}
    values = {s.name: _check(s, flat.get(s.name, s.default), f"{s.name} (written as {written[s.name]})"
                             if s.name in written else s.name) for s in SETTINGS}
    sites = _sites(doc.get("sites"), warnings)
    _check_tokens(values["api.tokens"], sites, values["server.host"])
    cfg = Config(**_sections(values), sites=sites, path=cfg_path.resolve(), warnings=warnings)
    if not values["push.vapid_sub"] and cfg.vapid_sub().startswith("mailto:"):  # a localhost From is refused too
        _check(Setting("push.vapid_sub", "", "", _vapid_sub), cfg.vapid_sub(), "push.vapid_sub (taken from email.from)")

    return cfg


def is_loopback(host: str) -> bool:
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_tokens(tokens: tuple[ApiToken, ...], sites: dict[str, Site], host: str) -> None:
    for n, t in enumerate(tokens):
        unknown = [x for x in t.sites if x != "*" and x not in sites]
        if unknown:
            raise ConfigError(f"config: api.tokens[{n}].sites names unknown site {unknown[0]!r} "
                              f"(sites: {', '.join(sites)})")
        if t.token == DEMO_TOKEN and not is_loopback(host):
            raise ConfigError(f"config: api.tokens[{n}].token is the published demo token {DEMO_TOKEN!r} and "
                              f"server.host is {host!r}, not a loopback address: set your own token (for example "
                              "from `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)")


def docs_table() -> str:
    """Markdown table of every key, for the README."""
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for s in SETTINGS + SITE_SETTINGS:
        default = "(required)" if s.default is None else f"`{s.default!r}`".replace("'", '"')
        rows.append(f"| `{s.name}` | {default} | {s.help} |")
    return "\n".join(rows)
