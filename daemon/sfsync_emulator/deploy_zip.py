"""Read a Metadata API deploy ZIP into the StaticResources it carries, or the problems it has."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from xml.etree import ElementTree as ET  # test clients' XML; expat refuses bombs  # nosec B405

from sfsync_emulator.resources import CACHE_CONTROLS, MAX_BODY_BYTES, NAME_RULE

MD_NS = "{http://soap.sforce.com/2006/04/metadata}"
RESOURCE_TYPE = "StaticResource"


@dataclass(frozen=True)
class ResourceComponent:
    """A StaticResource found in the ZIP, ready to be stored."""

    full_name: str
    file_name: str
    body: bytes
    content_type: str
    cache_control: str
    description: str | None


@dataclass(frozen=True)
class Problem:
    """A component failure as `DeployMessage` reports it."""

    file_name: str
    full_name: str
    problem: str
    component_type: str = RESOURCE_TYPE


@dataclass(frozen=True)
class DeployPlan:
    """What a deploy would do: the components to store and the problems found."""

    members: tuple[str, ...]
    components: tuple[ResourceComponent, ...]
    problems: tuple[Problem, ...]
    error_message: str | None = None


def read_deploy_zip(data: bytes, *, single_package: bool) -> DeployPlan:
    """Given a deploy ZIP, return its plan; problems are reported, never raised."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            files = {
                info.filename: archive.read(info)
                for info in archive.infolist()
                if not info.is_dir()
            }
    except (zipfile.BadZipFile, OSError, EOFError):
        # [U] Salesforce's text for a ZIP it cannot open was not found.
        return DeployPlan((), (), (), error_message="The zip file is not a valid zip file")
    files = _strip_top_folder(files) if not single_package else files
    package = files.get("package.xml")
    if package is None:
        missing = Problem("package.xml", "package.xml", "No package.xml found", "")
        return DeployPlan((), (), (missing,))
    try:
        members = _members(package, files)
    except ET.ParseError as error:
        failure = Problem("package.xml", "package.xml", f"Error parsing file: {error}", "")
        return DeployPlan((), (), (failure,))
    components: list[ResourceComponent] = []
    problems: list[Problem] = []
    for member in members:
        found = _component(member, files)
        if isinstance(found, ResourceComponent):
            components.append(found)
        else:
            problems.append(found)
    return DeployPlan(tuple(members), tuple(components), tuple(problems))


def _strip_top_folder(files: dict[str, bytes]) -> dict[str, bytes]:
    # singlePackage=false: everything sits under one top-level folder (CumulusCI uses `metadata/`).
    tops = {name.split("/", 1)[0] for name in files}
    if len(tops) != 1 or not all("/" in name for name in files):
        return {}
    return {name.split("/", 1)[1]: body for name, body in files.items()}


def _members(package: bytes, files: dict[str, bytes]) -> list[str]:
    root = ET.fromstring(package)  # noqa: S314 - the emulator only reads its own test inputs  # nosec B314
    members: list[str] = []
    for types in root.iter(f"{MD_NS}types"):
        type_name = (types.findtext(f"{MD_NS}name") or "").strip()
        names = [(member.text or "").strip() for member in types.iter(f"{MD_NS}members")]
        if type_name != RESOURCE_TYPE:
            # [U] the emulator knows StaticResource only; real orgs deploy every type.
            members.extend(f"{type_name}:{name}" for name in names)
            continue
        if "*" in names:
            names = sorted(
                name.removeprefix("staticresources/").removesuffix(".resource")
                for name in files
                if name.startswith("staticresources/") and name.endswith(".resource")
            )
        members.extend(names)
    return members


def _component(member: str, files: dict[str, bytes]) -> ResourceComponent | Problem:
    if ":" in member:
        type_name, name = member.split(":", 1)
        return Problem(
            "package.xml", name, f"sfsync_emulator does not deploy {type_name}", type_name
        )
    file_name = f"staticresources/{member}.resource"
    if file_name not in files:
        return Problem(
            "package.xml",
            member,
            f"An object '{member}' of type StaticResource was named in package.xml,"
            " but was not found in zipped directory",
        )
    if not NAME_RULE.match(member):
        # [U] the exact Metadata API wording for a bad StaticResource name was not found.
        return Problem(
            file_name,
            member,
            "The StaticResource name can only contain underscores and alphanumeric characters,"
            " must begin with a letter, not end with an underscore, and not contain two"
            " consecutive underscores",
        )
    meta = files.get(file_name + "-meta.xml")
    if meta is None:
        # [U] wording for a missing -meta.xml file.
        return Problem(file_name, member, f"Could not find metadata file for {file_name}")
    body = files[file_name]
    if len(body) > MAX_BODY_BYTES:
        return Problem(file_name, member, "static resource cannot exceed 5MB")
    return _parse_meta(member, file_name, body, meta)


def _parse_meta(
    member: str, file_name: str, body: bytes, meta: bytes
) -> ResourceComponent | Problem:
    try:
        root = ET.fromstring(meta)  # noqa: S314 - the emulator only reads its own test inputs  # nosec B314
    except ET.ParseError as error:
        return Problem(file_name + "-meta.xml", member, f"Error parsing file: {error}")
    cache_control = (root.findtext(f"{MD_NS}cacheControl") or "").strip()
    content_type = (root.findtext(f"{MD_NS}contentType") or "").strip()
    description = root.findtext(f"{MD_NS}description")
    if cache_control not in CACHE_CONTROLS:
        # [U] wording for a bad or missing cacheControl.
        return Problem(
            file_name, member, f"cacheControl: bad value for restricted picklist: {cache_control}"
        )
    if not content_type:
        return Problem(file_name, member, "Required field is missing: contentType")
    return ResourceComponent(member, file_name, body, content_type, cache_control, description)
