"""An SMTP catcher inside the server for trying follow-ups out (`email.catcher = true`, which the demo
config sets): aiosmtpd on email.smtp_host:smtp_port, loopback only, keeping every email it gets in
data_dir/mail as an .eml file. Never for real mail."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

log = logging.getLogger("linger.catcher")


class _Keep:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.n = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.folder.mkdir(parents=True, exist_ok=True)
        self.n += 1
        path = self.folder / f"{int(time.time() * 1000)}-{self.n}.eml"
        path.write_bytes(envelope.original_content or envelope.content)
        log.info("catcher: kept an email to %d recipient(s) as %s", len(envelope.rcpt_tos), path.name)
        return "250 Message accepted for delivery"


def start(host: str, port: int, folder: Path) -> Controller:
    from .config import is_loopback

    if not is_loopback(host):
        raise ValueError(f"email.catcher listens on loopback only; email.smtp_host is {host!r}")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd says a lot at INFO
    controller = Controller(_Keep(folder), hostname=host, port=port)
    controller.start()
    log.info("SMTP catcher on %s:%d keeps emails in %s", host, port, folder)
    return controller
