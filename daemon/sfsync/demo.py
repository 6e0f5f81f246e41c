"""`sfsync demo`: the whole loop against the built-in emulator, with no org and no set-up.

It starts the emulator, writes a config in a temporary folder, authorizes through the real web
flow (playing the browser itself), starts `sfsync run` as a real subprocess, publishes a package
and then a changed one, shows each going live and served from `/resource/...`, prints the
status, and stops everything it started.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess  # the demo starts `sfsync run`, its own command  # nosec B404
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import requests

from sfsync.actions.authorize import AuthorizeOptions, Interaction, authorize
from sfsync.actions.status import status_rows
from sfsync.auth_wiring import auth_deps
from sfsync.config import load_config
from sfsync.errors import SfsyncError
from sfsync.ports import unused_loopback_port
from sfsync.tokens.backends import PASSPHRASE_VARIABLE

if TYPE_CHECKING:
    from sfsync_emulator import OrgHandle

RESOURCE = "WalkMeLightning"
CLIENT_ID = "sfsync-demo"
PASSPHRASE = "sfsync-demo-passphrase"  # noqa: S105 - a throwaway keyring in a temporary folder  # nosec B105
WAIT_SECONDS = 30.0


def demo_package(version: int) -> bytes:
    """Return a small self-hosting package whose content says which version it is."""
    files = {
        "settings.json": json.dumps({"active": False, "version": version, "language": "en"}),
        "content/index.html": f"<html><body><h1>Guided tour v{version}</h1></body></html>\n",
        "content/js/player.js": f"window.walkmeDemo = {{ version: {version} }};\n" * 40,
        "content/css/player.css": ".walkme-demo { color: #1a73e8; }\n" * 40,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def _write_config(root: Path, ca_path: Path, login_url: str, callback_port: int) -> Path:
    drop = root / "drop"
    drop.mkdir()
    config = root / "sfsync.toml"
    config.write_text(
        "\n".join(
            [
                "[daemon]",
                f'state_dir = "{root / "state"}"',
                f'metrics_listen = "127.0.0.1:{unused_loopback_port()}"',
                'log_format = "json"',
                "[oauth]",
                f'client_id = "{CLIENT_ID}"',
                f"callback_port = {callback_port}",
                f'ca_bundle = "{ca_path}"',
                "[keyring]",
                'backend = "cryptfile"',
                f'cryptfile_path = "{root / "keyring.cfg"}"',
                "[systems.lightning]",
                f'resource = "{RESOURCE}"',
                f'source = {{ type = "dir", path = "{drop}", settle = "0s" }}',
                "[systems.lightning.environments.sandbox]",
                f'login_url = "{login_url}"',
                "overrides = { active = true }",
                "",
            ]
        )
    )
    return config


def _play_browser(ca_path: Path) -> Callable[[str], bool]:
    """Return an `open_url` that does what a browser would: follow the authorize URL (the
    emulator consents at once) and deliver the redirect to sfsync's loopback listener.
    """

    def open_url(url: str) -> bool:
        def browse() -> None:
            answer = requests.get(url, verify=str(ca_path), allow_redirects=False, timeout=10)
            requests.get(answer.headers["Location"], timeout=10)

        threading.Thread(target=browse, daemon=True).start()
        return True

    return open_url


def _wait_until(predicate: Callable[[], bool], what: str) -> float:
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > WAIT_SECONDS:
            raise SfsyncError(f"demo: {what} did not happen within {WAIT_SECONDS:g}s")
        time.sleep(0.02)
    return time.monotonic() - started


def run_demo(echo: Callable[[str], None]) -> int:
    """Run the demo, printing each step with `echo`; return 0 on success.

    Raise SfsyncError if a step fails; everything started is stopped either way.
    """
    from sfsync_emulator import Emulator  # noqa: PLC0415 - only demo/emulator load it

    with tempfile.TemporaryDirectory(prefix="sfsync-demo-") as folder, Emulator() as emu:
        root = Path(folder)
        callback_port = unused_loopback_port()
        emu.register_client(CLIENT_ID, [f"http://localhost:{callback_port}/OAuthCallback"])
        org = emu.add_org(name="sandbox")
        config_path = _write_config(root, emu.ca_path, emu.login_url, callback_port)
        echo(f"1. emulated org {org.instance_url}; config {config_path}")
        os.environ[PASSPHRASE_VARIABLE] = PASSPHRASE
        loaded = load_config(config_path)
        connector = loaded.connectors[0]
        authorized = authorize(
            [connector],
            AuthorizeOptions(flow="web", open_browser=True, timeout=30),
            auth_deps(loaded),
            Interaction(echo=lambda line: echo(f"   {line}"), open_url=_play_browser(emu.ca_path)),
        )
        user = authorized.username
        echo(f"2. authorized {connector.name} through the web flow (PKCE) as {user}")
        daemon = _start_daemon(config_path, root / "daemon.log")
        try:
            _show_pushes(echo, root / "drop", org, emu.ca_path, daemon)
            echo("5. status:")
            for row in status_rows(loaded.connectors, auth_deps(loaded)):
                echo(
                    f"   {row.connector}: authorized={row.authorized} "
                    f"live={str(row.live_sha256)[:12]} last={row.last_result} "
                    f"content_url={row.content_url}"
                )
        finally:
            _stop_daemon(daemon)
        echo("6. stopped the daemon and the emulator; nothing is left running")
    return 0


def _start_daemon(config_path: Path, log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:
        return subprocess.Popen(  # noqa: S603 - this interpreter, our own arguments  # nosec B603
            [sys.executable, "-m", "sfsync", "--config", str(config_path), "run"],
            stdout=log,
            stderr=subprocess.STDOUT,
            # The CLI took the passphrase out of this process's environment once it read it.
            env={**os.environ, PASSPHRASE_VARIABLE: PASSPHRASE},
        )


def _stop_daemon(daemon: subprocess.Popen[bytes]) -> None:
    if daemon.poll() is None:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=40)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()


def _show_pushes(
    echo: Callable[[str], None],
    drop: Path,
    org: OrgHandle,
    ca_path: Path,
    daemon: subprocess.Popen[bytes],
) -> None:
    settings_url = f"{org.instance_url}/resource/{RESOURCE}/settings.json"
    for step, version in ((3, 1), (4, 2)):
        data = demo_package(version)
        part = drop / f"walkme-{version}.zip.part"
        part.write_bytes(data)
        part.rename(drop / f"walkme-{version}.zip")

        def served(expected: int = version) -> bool:
            if daemon.poll() is not None:
                raise SfsyncError(f"demo: the daemon exited with {daemon.returncode}")
            resource = org.static_resources.get(RESOURCE)
            if resource is None:
                return False
            with zipfile.ZipFile(io.BytesIO(resource.body)) as archive:
                return bool(json.loads(archive.read("settings.json"))["version"] == expected)

        seconds = _wait_until(served, f"version {version} going live")
        answer = requests.get(settings_url, verify=str(ca_path), timeout=10)
        echo(
            f"{step}. published walkme-{version}.zip -> live in {seconds:.2f}s; "
            f"GET /resource/{RESOURCE}/settings.json serves {json.dumps(answer.json())}"
        )
