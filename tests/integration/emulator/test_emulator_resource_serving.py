"""`/resource/...`: files served out of stored ZIP StaticResources, with no authentication."""

from __future__ import annotations

import pytest


def test_serves_files_out_of_a_zip(org, http, site_zip, create_resource):
    """A path inside a ZIP resource is served with a content type from its file name."""
    create_resource("Site", site_zip)
    stamp = int(org.static_resources["Site"].system_modstamp * 1000)
    for prefix in (f"/resource/{stamp}/Site", "/resource/Site"):
        page = http.get(f"{org.instance_url}{prefix}/index.html")
        assert page.status_code == 200
        assert page.headers["Content-Type"].startswith("text/html")
        assert page.content == b"<h1>hi</h1>"
    script = http.get(f"{org.instance_url}/resource/Site/js/app.js")
    assert "javascript" in script.headers["Content-Type"]
    whole = http.get(f"{org.instance_url}/resource/{stamp}/Site")
    assert whole.content == site_zip
    assert whole.headers["Content-Type"] == "application/zip"
    assert org.count(api="resource") == 4


@pytest.mark.parametrize(
    "path", ["/resource/Nope/index.html", "/resource/Site/missing.js", "/resource/"]
)
def test_missing_resources_and_paths_are_404(org, http, site_zip, create_resource, path):
    """Unknown resources and paths answer 404."""
    create_resource("Site", site_zip)
    assert http.get(f"{org.instance_url}{path}").status_code == 404


def test_resources_are_not_served_by_the_login_host(emu, org, http, site_zip, create_resource):
    """The login host serves OAuth only: /resource there answers 404."""
    create_resource("Site", site_zip)
    assert http.get(f"{emu.login_url}/resource/Site/index.html").status_code == 404
