"""`sfsync emulator`: one org in the foreground until SIGINT, SIGTERM or a stop event."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

from sfsync_emulator.emulator import Emulator, OrgHandle

DEMO_CLIENT_ID = "sfsync-demo"
DEMO_CALLBACK_PORT = 1717
DEMO_REDIRECT_URIS = tuple(
    f"http://{host}:{DEMO_CALLBACK_PORT}/{path}"
    for host in ("localhost", "127.0.0.1")
    for path in ("OAuthCallback", "OauthRedirect")
)
WAKE_SECONDS = 0.5


def config_snippet(emulator: Emulator, org: OrgHandle) -> str:
    """Return a sfsync.toml fragment (SPEC section 4) that points sfsync at the emulator."""
    return "\n".join(
        [
            "[oauth]",
            f'client_id = "{DEMO_CLIENT_ID}"',
            f"callback_port = {DEMO_CALLBACK_PORT}",
            f'ca_bundle = "{emulator.ca_path}"',
            "",
            "[systems.demo]",
            'resource = "DemoResource"',
            'cache_control = "public"',
            'source = { type = "dir", path = "./demo-packages", settle = "2s" }',
            "",
            "[systems.demo.environments.sandbox]",
            f'login_url = "{emulator.login_url}"',
            f'# or the org\'s own host (like a My Domain): "{org.instance_url}"',
        ]
    )


@contextlib.contextmanager
def _signals_set(event: threading.Event) -> Iterator[None]:
    """Set `event` on SIGINT/SIGTERM while inside; only the main thread may install handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _handler(_signum: int, _frame: FrameType | None) -> None:
        event.set()

    previous = {sig: signal.signal(sig, _handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run(
    port: int | None,
    print_line: Callable[[str], None],
    stop_event: threading.Event | None = None,
) -> None:
    """Serve one org (on `port`, or a free one) with a demo client until told to stop."""
    stop = stop_event or threading.Event()
    with _signals_set(stop), Emulator() as emulator:
        org = emulator.add_org(name="sandbox", port=port or 0)
        emulator.register_client(DEMO_CLIENT_ID, DEMO_REDIRECT_URIS, device_flow=True)
        print_line("sfsync emulator is running (stop it with Ctrl-C).")
        print_line(f"Login URL:    {emulator.login_url}")
        print_line(f"Instance URL: {org.instance_url}")
        print_line(f"CA file:      {emulator.ca_path}")
        print_line(f"User:         {org.default_user.username}")
        print_line(f"Client id:    {DEMO_CLIENT_ID}")
        print_line("sfsync.toml snippet:")
        for line in config_snippet(emulator, org).splitlines():
            print_line(line)
        while not stop.wait(WAKE_SECONDS):
            pass
        print_line("sfsync emulator stopped.")
