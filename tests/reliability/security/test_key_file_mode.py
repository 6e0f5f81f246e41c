"""Issue 14 item 9a: a JWT private key that every local user could read was used without a word,
so any account on the host could mint tokens for the org. Replayed with a real key written at
the default umask's 0644: it must be refused before it signs anything, and sign once chmod 600.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sfsync.errors import AuthorizationError
from sfsync.salesforce.oauth import jwt_assertion
from sfsync.salesforce.session import read_key_file

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_world_readable_jwt_key_signs_nothing_until_chmod_600(tmp_path: Path) -> None:
    """A 0644 key is refused naming the path and `chmod 600`; after the chmod it signs."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "jwt.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o644)
    with pytest.raises(AuthorizationError, match=re.escape(f"chmod 600 {path}")):
        jwt_assertion(
            "client", "ops@acme.com", "https://test.salesforce.com", read_key_file(path), NOW
        )
    path.chmod(0o600)
    assert jwt_assertion(
        "client", "ops@acme.com", "https://test.salesforce.com", read_key_file(path), NOW
    )
