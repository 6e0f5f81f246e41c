"""The http source: conditional GETs, a verified cache, limits, and errors that name the URL."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import responses
from filelock import FileLock

from sfsync.config.schema import Config, HttpSource
from sfsync.errors import NothingPublishedError, SourceError
from sfsync.sources.http import (
    LOCK_NAME,
    PACKAGE_NAME,
    PART_NAME,
    VALIDATORS_NAME,
    HttpPackageSource,
    http_session_for,
)
from sfsync.sources.http_validators import (
    Validators,
    body_length_to_check,
    declared_length,
    display_url,
    next_validators,
    parse_validators,
    redact_query,
    render_validators,
    url_fingerprint,
)

SECRET = "SECRET123signature"
URL = f"https://cdn.example.com/walkme/lightning.zip?sig={SECRET}&exp=99"
SHOWN = "https://cdn.example.com/walkme/lightning.zip"
ETAG = '"v1"'
LAST_MODIFIED = "Wed, 21 Oct 2015 07:28:00 GMT"
PACKAGE = b"PK\x03\x04 first package"
NEWER = b"PK\x03\x04 second package"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as requests_mock:
        yield requests_mock


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "state" / "sources" / "lightning"


def make_source(
    cache_dir: Path, url: str = URL, max_bytes: int = 1_000_000, timeout: float = 5
) -> HttpPackageSource:
    return HttpPackageSource(
        "lightning",
        HttpSource(type="http", url=url, max_bytes=max_bytes),
        cache_dir,
        requests.Session(),
        timeout,
    )


def serve(
    mock: responses.RequestsMock,
    body: bytes | Exception = PACKAGE,
    status: int = 200,
    headers: dict[str, str] | None = None,
    url: str = URL,
) -> None:
    """Make the URL answer this way from now on (replacing what it answered before)."""
    mock.upsert(responses.GET, url, body=body, status=status, headers=headers or {})


def sent(mock: responses.RequestsMock, index: int) -> dict[str, str]:
    return dict(mock.calls[index].request.headers)


def conditional(headers: dict[str, str]) -> dict[str, str]:
    return {
        name: value
        for name, value in headers.items()
        if name in {"If-None-Match", "If-Modified-Since"}
    }


# --- conditional GETs and versions ------------------------------------------------------------


def test_unchanged_url_costs_one_request_answered_304(
    mock: responses.RequestsMock, cache_dir: Path
) -> None:
    """After a download, a poll sends both validators and a 304 hands back the cached bytes."""
    source = make_source(cache_dir)
    serve(mock, headers={"ETag": ETAG, "Last-Modified": LAST_MODIFIED})
    first = source.fetch()
    assert first.changed
    assert first.version == f"etag:{ETAG}"
    assert first.path == cache_dir / PACKAGE_NAME
    assert first.path.read_bytes() == PACKAGE
    assert conditional(sent(mock, 0)) == {}
    assert sent(mock, 0)["Accept-Encoding"] == "identity"  # so Content-Length counts the bytes

    serve(mock, body=b"", status=304)
    second = source.fetch()
    assert len(mock.calls) == 2
    assert conditional(sent(mock, 1)) == {
        "If-None-Match": ETAG,
        "If-Modified-Since": LAST_MODIFIED,
    }
    assert second.changed is False
    assert second.version == f"etag:{ETAG}"
    assert second.path.read_bytes() == PACKAGE


def test_last_modified_only(mock: responses.RequestsMock, cache_dir: Path) -> None:
    """With only Last-Modified, the version is the bytes' hash and only If-Modified-Since goes."""
    source = make_source(cache_dir)
    serve(mock, headers={"Last-Modified": LAST_MODIFIED})
    assert source.fetch().version == f"sha256:{sha256(PACKAGE)}"
    serve(mock, body=b"", status=304)
    again = source.fetch()
    assert conditional(sent(mock, 1)) == {"If-Modified-Since": LAST_MODIFIED}
    assert (again.changed, again.version) == (False, f"sha256:{sha256(PACKAGE)}")


def test_no_validators_compares_the_bytes(mock: responses.RequestsMock, cache_dir: Path) -> None:
    """Without ETag or Last-Modified every poll downloads, but the same bytes are not a change."""
    source = make_source(cache_dir)
    serve(mock)
    assert source.fetch().version == f"sha256:{sha256(PACKAGE)}"
    same = source.fetch()
    assert conditional(sent(mock, 1)) == {}
    assert (same.changed, same.version) == (False, f"sha256:{sha256(PACKAGE)}")
    serve(mock, body=NEWER)
    newer = source.fetch()
    assert (newer.changed, newer.version) == (True, f"sha256:{sha256(NEWER)}")
    assert newer.path.read_bytes() == NEWER


def test_new_etag_on_the_same_bytes_keeps_the_version(
    mock: responses.RequestsMock, cache_dir: Path
) -> None:
    """Relabelled bytes are no change; the next poll asks with the new tag."""
    source = make_source(cache_dir)
    serve(mock, headers={"ETag": ETAG})
    source.fetch()
    serve(mock, headers={"ETag": '"v2"'})
    relabelled = source.fetch()
    assert (relabelled.changed, relabelled.version) == (False, f"etag:{ETAG}")
    serve(mock, body=b"", status=304)
    source.fetch()
    assert sent(mock, 2)["If-None-Match"] == '"v2"'


def test_new_bytes_are_a_change(mock: responses.RequestsMock, cache_dir: Path) -> None:
    """A 200 with different bytes replaces the package and reports the new ETag."""
    source = make_source(cache_dir)
    serve(mock, headers={"ETag": ETAG})
    source.fetch()
    serve(mock, body=NEWER, headers={"ETag": '"v2"'})
    newer = source.fetch()
    assert (newer.changed, newer.version) == (True, 'etag:"v2"')
    assert newer.path.read_bytes() == NEWER


def test_restart_reuses_the_verified_cache(mock: responses.RequestsMock, cache_dir: Path) -> None:
    """A new source object over the same cache folder still asks conditionally."""
    serve(mock, headers={"ETag": ETAG})
    make_source(cache_dir).fetch()
    serve(mock, body=b"", status=304)
    fetched = make_source(cache_dir).fetch()
    assert conditional(sent(mock, 1)) == {"If-None-Match": ETAG}
    assert fetched.changed is False


def test_304_to_an_unconditional_request_is_an_error(
    mock: responses.RequestsMock, cache_dir: Path
) -> None:
    """A 304 when nothing was asked conditionally cannot name any bytes: refused."""
    serve(mock, body=b"", status=304)
    with pytest.raises(SourceError, match="304 Not Modified to an unconditional request"):
        make_source(cache_dir).fetch()


# --- when the cache cannot be trusted ---------------------------------------------------------


def download_once(mock: responses.RequestsMock, cache_dir: Path) -> None:
    serve(mock, headers={"ETag": ETAG, "Last-Modified": LAST_MODIFIED})
    make_source(cache_dir).fetch()
    serve(mock, body=b"", status=304)


def test_tampered_validators_mean_an_unconditional_get(
    mock: responses.RequestsMock, cache_dir: Path
) -> None:
    """validators.json recording other bytes than package.zip holds is not trusted."""
    download_once(mock, cache_dir)
    record = cache_dir / VALIDATORS_NAME
    document = json.loads(record.read_text())
    document["sha256"] = sha256(b"something else")
    record.write_text(json.dumps(document))
    serve(mock, headers={"ETag": ETAG})
    fetched = make_source(cache_dir).fetch()
    assert conditional(sent(mock, 1)) == {}
    assert fetched.changed is False  # the bytes are what was cached


def test_unreadable_validators_mean_an_unconditional_get(
    mock: responses.RequestsMock, cache_dir: Path
) -> None:
    """A validators.json that is not valid JSON costs a full download, not an error."""
    download_once(mock, cache_dir)
    (cache_dir / VALIDATORS_NAME).write_text("{not json")
    serve(mock, headers={"ETag": ETAG})
    make_source(cache_dir).fetch()
    assert conditional(sent(mock, 1)) == {}


def test_modified_package_means_an_unconditional_get(
    mock: responses.RequestsMock, cache_dir: Path
) -> None:
    """A package.zip changed behind sfsync's back (or by a crash) is downloaded again."""
    download_once(mock, cache_dir)
    (cache_dir / PACKAGE_NAME).write_bytes(b"PK damaged")
    serve(mock, headers={"ETag": ETAG})
    fetched = make_source(cache_dir).fetch()
    assert conditional(sent(mock, 1)) == {}
    assert fetched.changed is True
    assert fetched.path.read_bytes() == PACKAGE


def test_modified_package_is_noticed_by_a_running_source(
    mock: responses.RequestsMock, cache_dir: Path
) -> None:
    """The in-memory hash is dropped when package.zip's size or mtime changes."""
    source = make_source(cache_dir)
    serve(mock, headers={"ETag": ETAG})
    source.fetch()
    (cache_dir / PACKAGE_NAME).write_bytes(b"PK a different length")
    source.fetch()
    assert conditional(sent(mock, 1)) == {}


def test_missing_package_means_an_unconditional_get(
    mock: responses.RequestsMock, cache_dir: Path
) -> None:
    """Validators without the package they describe are not used."""
    download_once(mock, cache_dir)
    (cache_dir / PACKAGE_NAME).unlink()
    serve(mock, headers={"ETag": ETAG})
    fetched = make_source(cache_dir).fetch()
    assert conditional(sent(mock, 1)) == {}
    assert fetched.changed is True


def test_changed_url_downloads_afresh(mock: responses.RequestsMock, cache_dir: Path) -> None:
    """Validators recorded for another URL are not sent to the new one."""
    download_once(mock, cache_dir)
    other = "https://cdn.example.com/walkme/lightning-v2.zip"
    serve(mock, body=NEWER, headers={"ETag": ETAG}, url=other)
    fetched = make_source(cache_dir, url=other).fetch()
    assert mock.calls[1].request.url == other
    assert conditional(sent(mock, 1)) == {}
    assert (fetched.changed, fetched.path.read_bytes()) == (True, NEWER)


# --- limits and broken downloads --------------------------------------------------------------


def assert_clean(cache_dir: Path, package: bytes | None) -> None:
    """No part file is left, and package.zip is what it was before (or still absent)."""
    assert not (cache_dir / PART_NAME).exists()
    assert [path.name for path in cache_dir.iterdir() if path.suffix in {".part", ".tmp"}] == []
    if package is None:
        assert not (cache_dir / PACKAGE_NAME).exists()
    else:
        assert (cache_dir / PACKAGE_NAME).read_bytes() == package


def test_oversize_by_content_length_is_refused_up_front(
    mock: responses.RequestsMock, cache_dir: Path
) -> None:
    """A Content-Length over max_bytes is refused before reading: the short body is never read."""
    # The body is shorter than declared: reading it would fail as a broken download instead.
    serve(mock, body=b"x" * 10, headers={"Content-Length": "2000"})
    with pytest.raises(SourceError, match=r"larger than max_bytes \(1000 bytes\)") as caught:
        make_source(cache_dir, max_bytes=1000).fetch()
    assert "[systems.lightning.source] max_bytes" in str(caught.value)
    assert_clean(cache_dir, None)


def test_oversize_while_streaming_is_refused(mock: responses.RequestsMock, cache_dir: Path) -> None:
    """Without Content-Length, the bytes are counted; the old package stays in place."""
    source = make_source(cache_dir, max_bytes=100_000)
    serve(mock)
    source.fetch()
    serve(mock, body=b"x" * 200_000)
    with pytest.raises(SourceError, match=r"larger than max_bytes \(100000 bytes\)"):
        source.fetch()
    response = mock.calls[1].response
    assert isinstance(response, requests.Response)
    assert "Content-Length" not in response.headers
    assert_clean(cache_dir, PACKAGE)


def test_exactly_max_bytes_is_accepted(mock: responses.RequestsMock, cache_dir: Path) -> None:
    """The limit is inclusive: a package of exactly max_bytes is used."""
    serve(mock, body=b"y" * 1000, headers={"Content-Length": "1000"})
    assert make_source(cache_dir, max_bytes=1000).fetch().path.stat().st_size == 1000


def test_cut_download_is_never_handed_over(mock: responses.RequestsMock, cache_dir: Path) -> None:
    """A body shorter than its Content-Length is an error; the previous package stays."""
    source = make_source(cache_dir)
    serve(mock, headers={"ETag": ETAG})
    source.fetch()
    serve(mock, body=b"PK\x03\x04 cut", headers={"ETag": '"v2"', "Content-Length": "5000"})
    with pytest.raises(SourceError, match="broke off"):
        source.fetch()
    assert_clean(cache_dir, PACKAGE)
    assert json.loads((cache_dir / VALIDATORS_NAME).read_text())["etag"] == ETAG


def test_plain_http_redirect_is_refused(mock: responses.RequestsMock, cache_dir: Path) -> None:
    """A redirect from https to plain http on another host is not followed into the cache."""
    mock.get(URL, status=302, headers={"Location": "http://mirror.example.com/lightning.zip"})
    mock.get("http://mirror.example.com/lightning.zip", body=PACKAGE)
    with pytest.raises(SourceError, match=r"plain http at mirror\.example\.com"):
        make_source(cache_dir).fetch()
    assert_clean(cache_dir, None)


# --- answers that are errors ------------------------------------------------------------------


def test_404_with_nothing_cached_is_nothing_published(
    mock: responses.RequestsMock, cache_dir: Path
) -> None:
    """A URL that does not exist yet means nothing is published, not a failure."""
    serve(mock, body=b"", status=404)
    with pytest.raises(NothingPublishedError, match="404 Not Found") as caught:
        make_source(cache_dir).fetch()
    assert SHOWN in str(caught.value)


def test_404_with_a_cached_copy_is_a_source_error(
    mock: responses.RequestsMock, cache_dir: Path
) -> None:
    """Once something was downloaded, a 404 is a failure and the cache is not served."""
    source = make_source(cache_dir)
    serve(mock, headers={"ETag": ETAG})
    source.fetch()
    serve(mock, body=b"", status=404)
    with pytest.raises(SourceError, match="HTTP 404 Not Found") as caught:
        source.fetch()
    assert not isinstance(caught.value, NothingPublishedError)
    assert_clean(cache_dir, PACKAGE)


def test_server_error_is_a_source_error(mock: responses.RequestsMock, cache_dir: Path) -> None:
    """A 500 is a SourceError naming the URL (without its query string) and the status."""
    serve(mock, body=b"oops", status=500)
    with pytest.raises(SourceError) as caught:
        make_source(cache_dir).fetch()
    message = str(caught.value)
    assert not isinstance(caught.value, NothingPublishedError)
    assert message == (
        f"source URL {SHOWN} (system lightning): answered HTTP 500 Internal Server Error"
    )
    assert_clean(cache_dir, None)


def test_connection_error_names_the_url_without_its_query(
    mock: responses.RequestsMock, cache_dir: Path
) -> None:
    """A refused connection (whose text repeats the full URL) is one line without the token."""
    # Nothing registered: responses refuses the connection and quotes the whole URL.
    with pytest.raises(SourceError, match="cannot connect") as caught:
        make_source(cache_dir).fetch()
    message = str(caught.value)
    assert SECRET not in message
    assert message.startswith(f"source URL {SHOWN} (system lightning): ")
    assert "\n" not in message


def test_timeout_is_a_source_error(mock: responses.RequestsMock, cache_dir: Path) -> None:
    """A read timeout says how long was waited."""
    serve(mock, body=requests.exceptions.ReadTimeout(f"read timed out for {URL}"))
    with pytest.raises(SourceError, match="no answer within 5s") as caught:
        make_source(cache_dir).fetch()
    assert SECRET not in str(caught.value)


def test_tls_failure_points_at_the_ca_bundle(mock: responses.RequestsMock, cache_dir: Path) -> None:
    """A certificate problem says how to trust a private CA."""
    serve(mock, body=requests.exceptions.SSLError("certificate verify failed"))
    with pytest.raises(SourceError, match=r"TLS failed .*ca_bundle.*certificate verify failed"):
        make_source(cache_dir).fetch()


def test_broken_stream_leaves_no_part_file(mock: responses.RequestsMock, cache_dir: Path) -> None:
    """A connection that breaks while the body streams leaves the old package and no part."""
    source = make_source(cache_dir)
    serve(mock)
    source.fetch()
    serve(mock, body=requests.exceptions.ChunkedEncodingError("Connection broken"))
    with pytest.raises(SourceError, match="broke off"):
        source.fetch()
    assert_clean(cache_dir, PACKAGE)


# --- files on disk ----------------------------------------------------------------------------


def test_cache_folder_is_0700_and_files_0600(mock: responses.RequestsMock, cache_dir: Path) -> None:
    """The cache folder is private even if it existed; the package and record are 0600."""
    cache_dir.mkdir(parents=True, mode=0o755)
    cache_dir.chmod(0o755)
    serve(mock, headers={"ETag": ETAG})
    make_source(cache_dir).fetch()
    assert cache_dir.stat().st_mode & 0o777 == 0o700
    assert (cache_dir / PACKAGE_NAME).stat().st_mode & 0o777 == 0o600
    assert (cache_dir / VALIDATORS_NAME).stat().st_mode & 0o777 == 0o600
    assert (cache_dir / LOCK_NAME).stat().st_mode & 0o777 == 0o600


def test_validators_record_keeps_no_secret(mock: responses.RequestsMock, cache_dir: Path) -> None:
    """validators.json shows the URL without its query and identifies it by hash."""
    serve(mock, headers={"ETag": ETAG, "Last-Modified": LAST_MODIFIED})
    make_source(cache_dir).fetch()
    text = (cache_dir / VALIDATORS_NAME).read_text()
    assert SECRET not in text
    assert json.loads(text) == {
        "url": SHOWN,
        "url_sha256": url_fingerprint(URL),
        "etag": ETAG,
        "last_modified": LAST_MODIFIED,
        "sha256": sha256(PACKAGE),
        "version": f"etag:{ETAG}",
    }


def test_stale_part_file_is_replaced(mock: responses.RequestsMock, cache_dir: Path) -> None:
    """A part file left by a crash neither blocks nor leaks into the next download."""
    cache_dir.mkdir(parents=True)
    (cache_dir / PART_NAME).write_bytes(b"half of an old download")
    serve(mock)
    assert make_source(cache_dir).fetch().path.read_bytes() == PACKAGE
    assert_clean(cache_dir, PACKAGE)


# --- concurrency ------------------------------------------------------------------------------


def test_one_fetch_at_a_time(mock: responses.RequestsMock, cache_dir: Path) -> None:
    """Two threads fetching through one source object never overlap."""
    in_flight = 0
    most = 0
    guard = threading.Lock()

    def answer(request: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        nonlocal in_flight, most
        with guard:
            in_flight += 1
            most = max(most, in_flight)
        time.sleep(0.05)
        with guard:
            in_flight -= 1
        return 200, {}, PACKAGE

    mock.add_callback(responses.GET, URL, callback=answer)
    source = make_source(cache_dir)
    threads = [threading.Thread(target=source.fetch) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(mock.calls) == 3
    assert most == 1


def test_another_process_fetching_makes_it_wait_then_fail(
    mock: responses.RequestsMock, cache_dir: Path
) -> None:
    """While another process holds the cache's lock, no request is sent; past the wait, an error."""
    cache_dir.mkdir(parents=True)
    source = make_source(cache_dir)
    source.lock_wait_seconds = 0.1
    serve(mock)
    holder = threading.Thread(target=_hold_lock, args=(cache_dir / LOCK_NAME, 1.0))
    holder.start()
    time.sleep(0.2)
    try:
        with pytest.raises(SourceError, match="another sfsync process"):
            source.fetch()
    finally:
        holder.join()
    assert len(mock.calls) == 0
    assert source.fetch().changed  # once it is free, the fetch goes ahead


def _hold_lock(path: Path, seconds: float) -> None:
    with FileLock(str(path)):
        time.sleep(seconds)


# --- the session ------------------------------------------------------------------------------


def test_session_for_config_uses_the_ca_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The download session trusts [oauth] ca_bundle even with REQUESTS_CA_BUNDLE set."""
    bundle = tmp_path / "corp.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/elsewhere/requests.pem")
    config = Config.model_validate(
        {
            "oauth": {"client_id": "x", "ca_bundle": str(bundle)},
            "systems": {
                "lightning": {
                    "resource": "WalkMe",
                    "source": {"type": "http", "url": URL},
                    "environments": {"sandbox": {}},
                }
            },
        }
    )
    session = http_session_for(config)
    settings = session.merge_environment_settings(URL, {}, None, None, None)
    assert settings["verify"] == str(bundle)


# --- the pure rules ---------------------------------------------------------------------------


def test_display_url_drops_query_fragment_and_credentials() -> None:
    """Only scheme, host, port and path are shown."""
    assert (
        display_url("https://user:pw@cdn.example.com:8443/a/b.zip?sig=1#frag")
        == "https://cdn.example.com:8443/a/b.zip"
    )


def test_redact_query_catches_re_encoded_queries() -> None:
    """The query is hidden even when it reappears encoded differently after the path."""
    url = "https://cdn.example.com/p.zip?sig=a b"
    text = "GET /p.zip?sig=a%20b failed\nagain for sig=a b"
    assert redact_query(text, url) == "GET /p.zip?[redacted] failed again for [redacted]"


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ("12", 12), ("12, 12", 12), ("12, 13", None), ("-1", None), ("x", None)],
)
def test_declared_length(header: str | None, expected: int | None) -> None:
    """Content-Length is trusted only when it is one non-negative number."""
    assert declared_length(header) == expected


def test_encoded_body_length_is_not_checked() -> None:
    """With gzip, Content-Length counts encoded bytes, so the written count is not compared."""
    assert body_length_to_check("10", "gzip") is None
    assert body_length_to_check("10", "identity") == 10
    assert body_length_to_check("10", None) == 10


def test_validators_round_trip_and_refuse_junk() -> None:
    """What is rendered parses back; anything else parses as nothing."""
    validators = next_validators(
        None, url=URL, etag=ETAG, last_modified=None, sha256=sha256(PACKAGE)
    )
    assert parse_validators(render_validators(validators, URL).decode()) == validators
    assert parse_validators("[]") is None
    assert parse_validators('{"sha256": "nothex"}') is None
    assert parse_validators("") is None


def test_new_version_only_for_new_bytes() -> None:
    """The recorded version survives a relabel of the same bytes, not a change of bytes."""
    stored = Validators(
        url_sha256=url_fingerprint(URL),
        etag=ETAG,
        last_modified=None,
        sha256=sha256(PACKAGE),
        version=f"etag:{ETAG}",
    )
    same = next_validators(stored, url=URL, etag='"v9"', last_modified=None, sha256=sha256(PACKAGE))
    new = next_validators(stored, url=URL, etag='"v9"', last_modified=None, sha256=sha256(NEWER))
    assert (same.version, same.etag) == (f"etag:{ETAG}", '"v9"')
    assert new.version == 'etag:"v9"'
