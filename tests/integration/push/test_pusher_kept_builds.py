"""Which builds a connector keeps on disk and in the store as pushes succeed and fail."""

from __future__ import annotations

import errno
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from sfsync.package.build import BuildOptions, build_prepared, prepare_package
from sfsync.package.read import PublishedPackage
from sfsync.state.packages import PackageArchive
from sfsync.sync.result import Result
from tests.fixtures.sync_support import STATIC_RESOURCE
from tests.integration.push.push_site import PushSite, build


def kept(site: PushSite) -> tuple[list[str], list[str]]:
    """Return the hashes of the kept builds on disk (sorted) and in the store (newest first)."""
    name = site.connector.name
    on_disk = PackageArchive(site.state_dir).kept(name)
    return on_disk, [record.sha256 for record in site.store.builds(name)]


def test_a_push_keeps_the_newest_builds_and_prunes_the_rest(
    make_site: Callable[..., PushSite],
) -> None:
    """After each successful push the newest `keep_packages` builds are kept, files and rows."""
    site = make_site(keep_packages=2)
    for version in range(1, 5):
        site.clock.advance(60)
        assert site.push(version).outcome is Result.PUSHED
    newest = [build(4).sha256, build(3).sha256]
    assert kept(site) == (sorted(newest), newest)


def test_failed_pushes_keep_their_builds_until_a_push_succeeds(
    make_site: Callable[..., PushSite],
) -> None:
    """A failed push keeps its build (for history and rollback) and prunes nothing; the next
    successful push prunes down to `keep_packages`, the live build among them.
    """
    site = make_site(keep_packages=1)
    site.push(1)
    site.clock.advance(60)
    site.org.faults.fail_next(1, status=400, api="tooling", path_prefix=f"{STATIC_RESOURCE}/")
    assert site.push(2).outcome is Result.FAILED
    assert kept(site)[0] == sorted([build(1).sha256, build(2).sha256])
    site.clock.advance(60)
    assert site.push(3).outcome is Result.PUSHED
    assert kept(site) == ([build(3).sha256], [build(3).sha256])


def test_a_rollback_pushes_a_kept_build_again(make_site: Callable[..., PushSite]) -> None:
    """A kept build loaded back is the same bytes and source version, and pushes as any build."""
    site = make_site(keep_packages=3)
    site.push(1)
    site.clock.advance(60)
    site.push(2)
    back = site.pusher.kept_build(site.connector, build(1).sha256)
    assert back.built.data == build(1).data
    assert back.built.content_sha256 == build(1).content_sha256
    assert back.source_version == "v1"
    outcome = site.pusher.push(
        site.connector, back.built, back.source_version, site.session, state=site.state()
    )
    assert outcome.outcome is Result.PUSHED, outcome.detail
    assert site.served() == build(1).sha256 == site.state().live_sha256


def test_a_build_sharing_published_runs_is_kept_linked_and_pushes_back(
    make_site: Callable[..., PushSite],
) -> None:
    """A real build whose published files are large is kept as its own bytes plus a link to
    the shared block; loaded back for a rollback it is the same bytes, and the org serves them.
    """
    site = make_site(keep_packages=3)
    files = {
        "lib/app.js": random.Random(7).randbytes(200_000),  # noqa: S311 - test bytes
        # Files after settings.json: their run's central records are shared and moved.
        **{f"zz/late/{n:03d}.txt": b"late %d" % n for n in range(300)},
    }
    prepared = prepare_package(PublishedPackage(files=files, origin="/srv/pub/p.zip"))
    options = BuildOptions(
        connector=site.connector.name, overrides={}, source_version="v9", sfsync_version="test"
    )
    first = build_prepared(prepared, options)
    assert first.shared  # the run holding lib/app.js
    pushed = site.pusher.push(site.connector, first, "v9", site.session, state=site.state())
    assert pushed.outcome is Result.PUSHED, pushed.detail
    kept_at = PackageArchive(site.state_dir).path(site.connector.name, first.sha256)
    assert kept_at.suffix == ".build"
    assert (kept_at / "layout").stat().st_size < 2_000  # the blocks are linked, not copied
    assert any(piece.shift for piece in first.shared)
    site.clock.advance(60)
    site.push(2)
    back = site.pusher.kept_build(site.connector, first.sha256)
    assert back.built.data == first.data
    again = site.pusher.push(
        site.connector, back.built, back.source_version, site.session, state=site.state()
    )
    assert again.outcome is Result.PUSHED, again.detail
    assert site.served() == first.sha256 == site.state().live_sha256


def test_a_prune_the_disk_refuses_leaves_the_push_pushed(
    make_site: Callable[..., PushSite], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A push whose clean-up of old builds fails (a disk error) is still reported pushed, with
    a warning naming the folder; the next push prunes what was left.
    """
    site = make_site(keep_packages=1)
    site.push(1)
    site.clock.advance(60)

    def failing(_archive: PackageArchive, _folder: Path) -> None:
        raise OSError(errno.EIO, "Input/output error")

    with monkeypatch.context() as patched, capture_logs() as logs:
        patched.setattr(PackageArchive, "_sweep", failing)
        assert site.push(2).outcome is Result.PUSHED
    warning = next(entry for entry in logs if entry["event"] == "kept builds not pruned")
    assert warning["log_level"] == "warning"
    assert "Input/output error" in warning["error"]
    assert str(site.state_dir / "packages" / "lightning") in warning["error"]
    assert len(kept(site)[1]) == 2  # the rows wait for a prune that went through
    site.clock.advance(60)
    assert site.push(3).outcome is Result.PUSHED
    assert kept(site) == ([build(3).sha256], [build(3).sha256])
