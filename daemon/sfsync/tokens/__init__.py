"""Where each connector's authorization lives: one keyring entry per connector (SPEC section 6)."""

from sfsync.tokens.memory import MemoryTokenStore
from sfsync.tokens.record import SERVICE, StoredAuthorization
from sfsync.tokens.store import TokenStore

__all__ = ["SERVICE", "MemoryTokenStore", "StoredAuthorization", "TokenStore"]
