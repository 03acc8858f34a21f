"""python -m server [run|check-config|config-docs|campaigns|doctor|init|vapid|email-test] [--config PATH]"""

from __future__ import annotations

import argparse
import logging
import sys

from . import config as config_mod


def _serve(cfg: config_mod.Config) -> None:
    import gc

    import uvicorn

    from .app import create_app

    if any(cfg.server.gc_thresholds):
        gc.set_threshold(*cfg.server.gc_thresholds)
    from .redact import redact_url

    app = create_app(cfg)
    host, port = cfg.server.host, cfg.server.port
    redis = redact_url(cfg.redis.url) if cfg.redis.url else "embedded in " + str(cfg.data_dir)
    print(f"Linger on http://{host}:{port}  (demo shop: http://{host}:{port}/demo, "
          f"sites: {', '.join(cfg.sites)}, redis: {redis})", flush=True)
    uvicorn.run(app, host=host, port=port, ws="websockets-sansio", ws_max_size=cfg.limits.max_frame_bytes,
                ws_per_message_deflate=False, log_level=cfg.server.log_level,
                timeout_graceful_shutdown=int(cfg.server.drain_s) or None, lifespan="on",
                proxy_headers=True, forwarded_allow_ips=cfg.server.forwarded_allow_ips)


def _update_readme(path: str) -> int:
    import re
    from pathlib import Path

    readme = Path(path)
    text = readme.read_text()
    new, n = re.subn(r"(<!-- config-table[^>]*-->\n).*?(<!-- /config-table -->)",
                     lambda m: m.group(1) + config_mod.docs_table() + "\n" + m.group(2), text, flags=re.S)
    if n != 1:
        print(f"{path}: no <!-- config-table --> ... <!-- /config-table --> block found", file=sys.stderr)
        return 2
    readme.write_text(new)
    print(f"{path}: settings table updated")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m server", description="Linger engagement server")
    ap.add_argument("command", nargs="?", default="run",
                    choices=["run", "check-config", "config-docs", "campaigns", "doctor", "init", "vapid",
                             "email-test", "user", "unsubscribe"])
    ap.add_argument("args", nargs="*", help="campaigns: export|import FILE (- for stdout/stdin); vapid: show|rotate; "
                    "email-test: ADDRESS")
    ap.add_argument("--site", help="campaigns: the site (default: the first in the config)")
    ap.add_argument("--role", default="merchant", help="user add: admin, merchant or ops")
    ap.add_argument("--sites", default="", help="user add: comma-separated site keys (default: the first site)")
    ap.add_argument("--password-stdin", action="store_true", help="user add|passwd: read the password from stdin")
    ap.add_argument("--config", help="path to config.toml (default: $LINGER_CONFIG or ./config.toml)")
    ap.add_argument("--readme", help="config-docs: rewrite the settings table in this file")
    args = ap.parse_args(argv)
    if args.command == "doctor":
        from .doctor import main as doctor

        return doctor()
    if args.command == "config-docs":
        if args.readme:
            return _update_readme(args.readme)
        print(config_mod.docs_table())
        return 0
    try:
        cfg = config_mod.load(args.config)
    except config_mod.ConfigError as e:
        print(f"linger: {e}", file=sys.stderr)
        return 2
    if args.command == "check-config":
        for warning in cfg.warnings:
            print(f"warning: {warning}")
        print(f"config OK: {cfg.path} ({len(cfg.sites)} site(s))")
        return 0
    if args.command == "campaigns":
        if len(args.args) != 2 or args.args[0] not in ("export", "import"):
            ap.error("usage: python -m server campaigns export|import FILE [--site KEY]")
        import asyncio

        from .cli import campaigns_cli

        return asyncio.run(campaigns_cli(cfg, args.args[0], args.args[1], args.site or next(iter(cfg.sites))))
    if args.command == "init":
        from .cli import init_cli

        return init_cli(cfg)
    if args.command == "vapid":
        if args.args not in (["show"], ["rotate"]):
            ap.error("usage: python -m server vapid show|rotate")
        from .cli import vapid_cli

        return vapid_cli(cfg, args.args[0])
    if args.command == "user":
        if not args.args or args.args[0] not in ("add", "passwd", "list", "remove") or \
                (args.args[0] != "list" and len(args.args) != 2):
            ap.error("usage: python -m server user add EMAIL [--role merchant] [--sites demo] | passwd EMAIL | "
                     "list | remove EMAIL")
        import asyncio

        from .cli_users import user_cli

        return asyncio.run(user_cli(cfg, args.args[0], args.args[1] if len(args.args) > 1 else "", args.role,
                                    args.sites, args.password_stdin))
    if args.command == "unsubscribe":
        if len(args.args) != 1:
            ap.error("usage: python -m server unsubscribe EMAIL [--site KEY]")
        import asyncio

        from .cli_users import unsubscribe_cli

        return asyncio.run(unsubscribe_cli(cfg, args.args[0], args.site or next(iter(cfg.sites))))
    if args.command == "email-test":
        if len(args.args) != 1:
            ap.error("usage: python -m server email-test ADDRESS")
        import asyncio

        from .cli import email_test_cli

        return asyncio.run(email_test_cli(cfg, args.args[0]))
    logging.basicConfig(level=cfg.server.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from .redact import install

    install()
    for warning in cfg.warnings:
        logging.getLogger("linger").warning("%s", warning)
    _serve(cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
