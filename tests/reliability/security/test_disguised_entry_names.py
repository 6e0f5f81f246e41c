"""Issue 14 item 9c: a package entry named "invoice\u202egpj.js" displays as "invoicesj.jpg"
wherever it is listed (a log line, a terminal, a review), and one holding U+2028 splits a log
line in two for any reader that honours Unicode line breaks. Both were accepted and pushed to
the org; the replay publishes them among ordinary files and expects the package refused.
"""

from __future__ import annotations

import pytest

from sfsync.package.errors import UnsafePathError
from sfsync.package.limits import PackageLimits
from sfsync.package.read import read_zip_bytes
from tests.fixtures.zip_craft import RawEntry, craft_zip

ORIGIN = "/srv/drop/lightning/guide.zip"


@pytest.mark.parametrize(
    "name",
    ["docs/invoice\u202egpj.js", "assets/a\u2028level=error msg=forged.js"],
    ids=["right-to-left-override", "line-separator"],
)
def test_package_with_a_disguised_name_is_refused(name: str) -> None:
    """The whole package is refused in one line that shows the hidden character escaped."""
    data = craft_zip([RawEntry("index.js"), RawEntry(name), RawEntry("style.css")])
    with pytest.raises(UnsafePathError) as caught:
        read_zip_bytes(data, ORIGIN, PackageLimits())
    message = str(caught.value)
    assert caught.value.entry == name
    assert message.isprintable()
    assert ORIGIN in message
