"""The read cache in front of a file-backed token store: read once, re-read when the keyring
file changes under it, remember its own writes, and pass through when there is no marker.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Collection, Hashable
from pathlib import Path

import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail
from keyring.errors import PasswordDeleteError

from sfsync.errors import TokenStoreError
from sfsync.tokens import MemoryTokenStore
from sfsync.tokens.caching import CachingTokenStore, cached, file_marker
from sfsync.tokens.keyring_store import KeyringTokenStore
from sfsync.tokens.record import SERVICE, StoredAuthorization

# Timestamps are set explicitly, whole seconds apart: a filesystem's timestamp granularity
# must not decide whether a test sees a change.
BASE_NS = 1_767_225_600 * 1_000_000_000
SECOND_NS = 1_000_000_000


def authorization(token: str) -> StoredAuthorization:
    """Return a web-flow record carrying `token`."""
    return StoredAuthorization(
        flow="web",
        instance_url="https://acme.my.salesforce.com",
        identity_url="https://login.salesforce.com/id/00D/005",
        login_url="https://login.salesforce.com",
        client_id="3MVG9",
        issued_at="2026-01-01T00:00:00+00:00",
        refresh_token=token,
    )


FIRST = authorization("5Aep861first")
SECOND = authorization("5Aep861second")


def set_mtime(path: Path, stamp_ns: int) -> None:
    """Set the file's access and modification times to `stamp_ns`."""
    os.utime(path, ns=(stamp_ns, stamp_ns))


class CountingFileStore:
    """A TokenStore kept in a dict that counts reads per connector and, like a file keyring,
    rewrites its file (new size, mtime a second later) on every write.
    """

    def __init__(self, path: Path, records: dict[str, StoredAuthorization] | None = None) -> None:
        self.path = path
        self.records = dict(records or {})
        self.reads: Counter[str] = Counter()
        self.passes = 0  # calls of get_many
        self.generation = 0
        self.refusal: TokenStoreError | None = None  # raised by every call while set
        self._rewrite()

    def get(self, connector: str) -> StoredAuthorization | None:
        """Return the connector's record, counting the read."""
        self.reads[connector] += 1
        self._refuse_if_asked()
        return self.records.get(connector)

    def get_many(self, connectors: Collection[str]) -> dict[str, StoredAuthorization | None]:
        """Return each connector's record in one pass, counting the pass and each read."""
        self.passes += 1
        self._refuse_if_asked()
        self.reads.update(connectors)
        return {connector: self.records.get(connector) for connector in connectors}

    def put(self, connector: str, record: StoredAuthorization) -> None:
        """Store the record and rewrite the file."""
        self._refuse_if_asked()
        self.records[connector] = record
        self._rewrite()

    def delete(self, connector: str) -> bool:
        """Remove the record and rewrite the file; return whether there was one."""
        self._refuse_if_asked()
        existed = self.records.pop(connector, None) is not None
        self._rewrite()
        return existed

    def describe(self) -> str:
        """Return a name naming the file."""
        return f"counting store at {self.path}"

    def _refuse_if_asked(self) -> None:
        if self.refusal is not None:
            raise self.refusal

    def _rewrite(self) -> None:
        self.generation += 1
        self.path.write_text("x" * self.generation)
        set_mtime(self.path, BASE_NS + self.generation * SECOND_NS)


def grow(path: Path) -> None:
    """Another process appends to the file (its size changes)."""
    with path.open("a") as stream:
        stream.write("more")


def same_size_new_mtime(path: Path) -> None:
    """Another process rewrites the file with as many bytes, at a later mtime."""
    before = path.stat()
    path.write_text("y" * before.st_size)
    set_mtime(path, before.st_mtime_ns + 3600 * SECOND_NS)


def replaced_same_size_and_mtime(path: Path) -> None:
    """Another process renames a new file of the same size and mtime into place."""
    before = path.stat()
    fresh = path.with_name(path.name + ".new")
    fresh.write_text("z" * before.st_size)
    set_mtime(fresh, before.st_mtime_ns)
    fresh.replace(path)


def removed(path: Path) -> None:
    """Another process removes the file."""
    path.unlink()


EXTERNAL_CHANGES: list[Callable[[Path], None]] = [
    grow,
    same_size_new_mtime,
    replaced_same_size_and_mtime,
    removed,
]


@pytest.fixture
def keyring_file(tmp_path: Path) -> Path:
    """Where the store keeps its values."""
    return tmp_path / "keyring.cfg"


@pytest.fixture
def inner(keyring_file: Path) -> CountingFileStore:
    """A file-backed store holding FIRST for "a/prod" and SECOND for "b/prod"."""
    return CountingFileStore(keyring_file, {"a/prod": FIRST, "b/prod": SECOND})


@pytest.fixture
def store(inner: CountingFileStore, keyring_file: Path) -> CachingTokenStore:
    """The cache in front of `inner`, watching its file."""
    return CachingTokenStore(inner, file_marker(keyring_file))


@pytest.mark.parametrize(("connector", "expected"), [("a/prod", FIRST), ("nobody/prod", None)])
def test_repeated_reads_ask_the_inner_store_once(
    store: CachingTokenStore,
    inner: CountingFileStore,
    connector: str,
    expected: StoredAuthorization | None,
) -> None:
    """While the file is unchanged, a record (or its absence) is read from the store once."""
    assert [store.get(connector) for _ in range(5)] == [expected] * 5
    assert inner.reads[connector] == 1


def test_each_connector_is_read_once(store: CachingTokenStore, inner: CountingFileStore) -> None:
    """Connectors are cached separately: each is read from the store once."""
    for _ in range(3):
        assert store.get("a/prod") == FIRST
        assert store.get("b/prod") == SECOND
    assert inner.reads == Counter({"a/prod": 1, "b/prod": 1})


def test_get_many_reads_only_what_is_not_cached_in_one_pass(
    store: CachingTokenStore, inner: CountingFileStore
) -> None:
    """get_many answers cached connectors from memory and reads the rest in one inner pass."""
    assert store.get("a/prod") == FIRST
    many = store.get_many(["a/prod", "b/prod", "nobody/prod"])
    assert many == {"a/prod": FIRST, "b/prod": SECOND, "nobody/prod": None}
    assert inner.passes == 1
    assert inner.reads == Counter({"a/prod": 1, "b/prod": 1, "nobody/prod": 1})
    assert store.get_many(["b/prod", "nobody/prod"]) == {"b/prod": SECOND, "nobody/prod": None}
    assert inner.passes == 1


def test_get_many_after_an_external_change_reads_again(
    store: CachingTokenStore, inner: CountingFileStore, keyring_file: Path
) -> None:
    """A change to the file by another process makes get_many read every connector again."""
    store.get_many(["a/prod", "b/prod"])
    inner.records["a/prod"] = SECOND
    grow(keyring_file)
    assert store.get_many(["a/prod", "b/prod"]) == {"a/prod": SECOND, "b/prod": SECOND}
    assert inner.passes == 2
    assert inner.reads == Counter({"a/prod": 2, "b/prod": 2})


@pytest.mark.parametrize("change", EXTERNAL_CHANGES, ids=lambda change: change.__name__)
def test_a_change_to_the_file_by_another_process_forgets_every_entry(
    store: CachingTokenStore,
    inner: CountingFileStore,
    keyring_file: Path,
    change: Callable[[Path], None],
) -> None:
    """A different size, mtime or inode (or a missing file) makes every record be read again,
    and the new value is returned.
    """
    store.get("a/prod")
    store.get("b/prod")
    inner.records["a/prod"] = SECOND  # what `sfsync authorize` wrote in the other process
    change(keyring_file)
    assert store.get("a/prod") == SECOND
    assert store.get("b/prod") == SECOND
    assert inner.reads == Counter({"a/prod": 2, "b/prod": 2})
    store.get("a/prod")
    assert inner.reads["a/prod"] == 2  # cached again after the re-read


def test_a_file_that_appears_later_is_a_change(tmp_path: Path) -> None:
    """A keyring file created after the first read (the first `sfsync authorize`) forces a
    re-read.
    """
    path = tmp_path / "later.cfg"
    inner = CountingFileStore(tmp_path / "elsewhere.cfg")
    store = CachingTokenStore(inner, file_marker(path))
    assert store.get("a/prod") is None
    inner.records["a/prod"] = FIRST
    path.write_text("created")
    assert store.get("a/prod") == FIRST
    assert inner.reads["a/prod"] == 2


@pytest.mark.parametrize(
    "write",
    [
        lambda store: store.put("a/prod", SECOND),
        lambda store: store.delete("a/prod"),
    ],
    ids=["put", "delete"],
)
def test_own_write_is_served_without_reading_it_back(
    store: CachingTokenStore, inner: CountingFileStore, write: Callable[[CachingTokenStore], object]
) -> None:
    """After this process's put or delete, get answers what was written without a read, even
    though the write moved the file's marker.
    """
    store.get("a/prod")
    write(store)
    expected = inner.records.get("a/prod")
    assert [store.get("a/prod") for _ in range(3)] == [expected] * 3
    assert inner.reads["a/prod"] == 1


def test_own_write_of_an_unread_connector_needs_no_read(
    store: CachingTokenStore, inner: CountingFileStore
) -> None:
    """A connector first put by this process is then served from the cache."""
    store.put("c/prod", FIRST)
    assert store.get("c/prod") == FIRST
    assert inner.reads["c/prod"] == 0
    assert inner.records["c/prod"] == FIRST


@pytest.mark.parametrize(
    "write",
    [
        lambda store: store.put("a/prod", SECOND),
        lambda store: store.delete("a/prod"),
    ],
    ids=["put", "delete"],
)
def test_own_write_keeps_other_entries_cached(
    store: CachingTokenStore, inner: CountingFileStore, write: Callable[[CachingTokenStore], object]
) -> None:
    """This process's put or delete of one connector does not make the others be read again."""
    store.get("b/prod")
    write(store)
    assert store.get("b/prod") == SECOND
    assert inner.reads["b/prod"] == 1


def test_an_external_change_after_an_own_write_is_still_seen(
    store: CachingTokenStore, inner: CountingFileStore, keyring_file: Path
) -> None:
    """Taking an own write's marker as seen does not hide a later write by another process."""
    store.put("a/prod", SECOND)
    inner.records["a/prod"] = FIRST
    same_size_new_mtime(keyring_file)
    assert store.get("a/prod") == FIRST
    assert inner.reads["a/prod"] == 1


@pytest.mark.parametrize(("connector", "existed"), [("a/prod", True), ("nobody/prod", False)])
def test_delete_reports_whether_there_was_a_record(
    store: CachingTokenStore, inner: CountingFileStore, connector: str, existed: bool
) -> None:
    """delete passes the inner store's answer through, and the record is gone from both."""
    assert store.delete(connector) is existed
    assert connector not in inner.records
    assert store.get(connector) is None


def test_a_failed_read_is_not_cached(store: CachingTokenStore, inner: CountingFileStore) -> None:
    """A read that raised is tried again on the next get, not remembered as absent."""
    inner.refusal = TokenStoreError("keyring locked")
    with pytest.raises(TokenStoreError, match="keyring locked"):
        store.get("a/prod")
    inner.refusal = None
    assert store.get("a/prod") == FIRST
    assert inner.reads["a/prod"] == 2


@pytest.mark.parametrize(
    "write",
    [
        lambda store: store.put("a/prod", SECOND),
        lambda store: store.delete("a/prod"),
    ],
    ids=["put", "delete"],
)
def test_a_refused_write_leaves_the_cache_as_it_was(
    store: CachingTokenStore, inner: CountingFileStore, write: Callable[[CachingTokenStore], object]
) -> None:
    """When the inner store refuses a put or delete, the error propagates and get still
    answers the record that is really stored.
    """
    store.get("a/prod")
    inner.refusal = TokenStoreError("keyring is read-only")
    with pytest.raises(TokenStoreError, match="read-only"):
        write(store)
    inner.refusal = None
    assert store.get("a/prod") == FIRST


def test_without_a_marker_every_call_passes_through(inner: CountingFileStore) -> None:
    """With no change marker, nothing is cached: every get reads, writes go straight in."""
    store = CachingTokenStore(inner, None)
    assert [store.get("a/prod") for _ in range(3)] == [FIRST] * 3
    assert inner.reads["a/prod"] == 3
    store.put("a/prod", SECOND)
    assert store.get("a/prod") == SECOND
    assert store.delete("a/prod") is True
    assert store.get("a/prod") is None
    assert inner.reads["a/prod"] == 5


def test_describe_is_the_inner_stores(store: CachingTokenStore, keyring_file: Path) -> None:
    """The cache describes itself as the store it fronts."""
    assert store.describe() == f"counting store at {keyring_file}"


def test_file_marker_follows_size_mtime_and_inode(keyring_file: Path) -> None:
    """The marker is stable for an untouched file, None for a missing one, and changes with
    the size, the mtime and the inode.
    """
    marker = file_marker(keyring_file)
    assert marker() is None
    keyring_file.write_text("abc")
    set_mtime(keyring_file, BASE_NS)
    seen: list[Hashable] = [marker()]
    assert marker() == seen[0] is not None
    for change in (grow, same_size_new_mtime, replaced_same_size_and_mtime):
        change(keyring_file)
        seen.append(marker())
    assert len(set(seen)) == len(seen)


class FileKeyring(KeyringBackend):
    """A keyring backend that keeps values in memory, names a file like keyrings.cryptfile does,
    and counts reads.
    """

    priority = 1

    def __init__(self, file_path: Path | None) -> None:
        super().__init__()
        self.file_path = None if file_path is None else str(file_path)
        self.values: dict[tuple[str, str], str] = {}
        self.reads = 0

    def get_password(self, service: str, username: str) -> str | None:
        """Return the stored value, counting the read."""
        self.reads += 1
        return self.values.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        """Store the value."""
        self.values[service, username] = password

    def delete_password(self, service: str, username: str) -> None:
        """Remove the value, or raise PasswordDeleteError."""
        if self.values.pop((service, username), None) is None:
            raise PasswordDeleteError(username)


# keyring registers every backend class it sees; keep this one out of its automatic choice so
# that no other test can end up with it.
KeyringBackend._classes.discard(FileKeyring)


def test_cached_puts_a_file_keyring_behind_the_cache(keyring_file: Path) -> None:
    """A keyring store whose backend names a file is wrapped, and its file is the marker."""
    keyring_file.write_text("encrypted")
    backend = FileKeyring(keyring_file)
    backend.set_password(SERVICE, "a/prod", FIRST.to_json())
    store = cached(KeyringTokenStore(backend))
    assert isinstance(store, CachingTokenStore)
    assert store.get("a/prod") == FIRST
    assert store.get("a/prod") == FIRST
    assert backend.reads == 1
    backend.set_password(SERVICE, "a/prod", SECOND.to_json())
    grow(keyring_file)
    assert store.get("a/prod") == SECOND
    assert backend.reads == 2


@pytest.mark.parametrize(
    "make_store",
    [
        lambda: KeyringTokenStore(FileKeyring(None)),
        lambda: KeyringTokenStore(fail.Keyring()),
        MemoryTokenStore,
    ],
    ids=["keyring-without-file", "keyring-with-no-file-attribute", "memory"],
)
def test_cached_leaves_other_stores_as_they_are(make_store: Callable[[], object]) -> None:
    """A store with no backend file to watch is returned itself, not wrapped."""
    store = make_store()
    assert cached(store) is store  # type: ignore[arg-type]
