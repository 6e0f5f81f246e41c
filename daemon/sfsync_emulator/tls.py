"""One trustme CA and one server certificate for 127.0.0.1, localhost and ::1."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import trustme


class DeferredHandshakeContext(ssl.SSLContext):
    """An SSLContext whose sockets shake hands on first use, not inside `accept()`.

    The one acceptor thread serves every org; a client that connects and stalls must not
    hold it up, so the handshake runs later, in the connection's own thread.
    """

    def wrap_socket(self, sock: Any, *args: Any, **kwargs: Any) -> Any:
        """Wrap `sock` as SSLContext does, but never shake hands on connect."""
        kwargs["do_handshake_on_connect"] = False
        if len(args) > 1:
            args = (args[0], *args[2:])  # drop a positional do_handshake_on_connect
        return super().wrap_socket(sock, *args, **kwargs)


def make_server_context(directory: Path) -> tuple[Path, ssl.SSLContext]:
    """Create a CA and a loopback certificate; return the CA PEM path and a server context."""
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1", "localhost", "::1")
    context = DeferredHandshakeContext(ssl.PROTOCOL_TLS_SERVER)
    certificate.configure_cert(context)
    ca_path = directory / "sfsync-emulator-ca.pem"
    authority.cert_pem.write_to_path(str(ca_path))
    return ca_path, context
