"""The shipped systemd unit, Prometheus alert rules and Grafana dashboard, checked with the real
tools (`systemd-analyze`, `promtool`, from `make system-deps`) and against the metric names the
daemon exposes (SPEC section 10).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from sfsync.daemon.metrics import Metrics
from sfsync.tokens.backends import PASSPHRASE_CREDENTIAL, PASSPHRASE_VARIABLE
from sfsync_emulator import Emulator
from tests.fixtures.site import SFSYNC
from tests.fixtures.sync_support import PASSPHRASE, sync_site

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "systemd" / "sfsync.service"
INSTALLED_EXEC = "/opt/sfsync/bin/sfsync"
ALERTS = ROOT / "config" / "prometheus" / "sfsync-alerts.yml"
ALERT_TESTS = ROOT / "config" / "prometheus" / "sfsync-alerts.test.yml"
DASHBOARD = ROOT / "config" / "grafana" / "sfsync-dashboard.json"
MAX_EXPOSURE = 2.0

# The metrics the daemon documents (SPEC section 10), as Prometheus exposes them.
SFSYNC_METRICS = {
    "sfsync_sync_total": "counter",
    "sfsync_push_seconds": "histogram",
    "sfsync_package_bytes": "gauge",
    "sfsync_last_success_timestamp_seconds": "gauge",
    "sfsync_connector_authorized": "gauge",
    "sfsync_api_requests_total": "counter",
    "sfsync_api_usage_ratio": "gauge",
    "sfsync_token_refresh_total": "counter",
    "sfsync_source_checks_total": "counter",
}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
SCRAPE_METRICS = {"up"}  # written by Prometheus itself for the "sfsync" job

# PromQL words that are not metric names (functions are told apart by the "(" after them).
PROMQL_WORDS = {
    "and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
    "group_left", "group_right", "sum", "avg", "min", "max", "count", "group", "stddev",
    "stdvar", "topk", "bottomk", "quantile", "count_values", "inf", "nan",
}  # fmt: skip


def tool(name: str) -> str:
    """Return the path of a command the Makefile's system-deps target installs."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} is missing: run `make system-deps` (Debian packages systemd, prometheus)"
        )
    return path


def run(*command: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command; return it finished, with its output as text."""
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, check=False, timeout=120
    )


def standard_metric_names() -> set[str]:
    """Return the names prometheus-client's process, platform and GC collectors expose."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return {sample.name for family in registry.collect() for sample in family.samples}


def allowed_metric_names() -> set[str]:
    """Return every series name the rules and the dashboard may query."""
    names = set(SFSYNC_METRICS) | SCRAPE_METRICS | standard_metric_names()
    for name, kind in SFSYNC_METRICS.items():
        if kind == "histogram":
            names |= {name + suffix for suffix in HISTOGRAM_SUFFIXES}
    return names


def metric_names(expression: str) -> set[str]:
    """Given a PromQL expression, return the metric names it selects."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expression)  # string literals
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range selectors, $__rate_interval among them
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w$.])([A-Za-z_:][\w:]*)(\s*\()?", text):
        word, is_call = match.group(1), match.group(2)
        if not is_call and word.lower() not in PROMQL_WORDS:
            names.add(word)
    return names


def base_metric(name: str) -> str:
    """Return the documented metric a series name belongs to (a histogram's part to itself)."""
    for suffix in HISTOGRAM_SUFFIXES:
        stem = name.removesuffix(suffix)
        if stem != name and SFSYNC_METRICS.get(stem) == "histogram":
            return stem
    return name


def unit_settings(text: str) -> dict[str, list[str]]:
    """Given a unit file, return each "Section.Key" with all its values, in order."""
    settings: dict[str, list[str]] = {}
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        settings.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return settings


def alert_rules() -> list[dict[str, Any]]:
    """Return every alerting rule in the shipped rules file."""
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def dashboard_panels() -> Iterator[dict[str, Any]]:
    """Yield every panel of the dashboard, those inside collapsed rows included."""
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        yield panel
        yield from panel.get("panels", [])


def dashboard_expressions() -> list[str]:
    """Return the PromQL of every panel target and query variable of the dashboard."""
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = [
        target["expr"] for panel in dashboard_panels() for target in panel.get("targets", [])
    ]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = re.fullmatch(r"label_values\((\w+),\s*\w+\)", variable["definition"])
            assert query, variable["definition"]
            expressions.append(query.group(1))
    return expressions


# --- The systemd unit ---------------------------------------------------------------------------


def test_unit_verifies_with_only_its_install_path_replaced(tmp_path: Path) -> None:
    """`systemd-analyze verify` accepts the unit without a single warning.

    verify insists that ExecStart= names an existing executable, and /opt/sfsync/bin/sfsync
    exists only on an installed host. So the copy verified here differs from the shipped unit
    in that one path, replaced by this checkout's own venv entry point (the same console
    script an install under /opt/sfsync has). The shipped unit itself must draw no complaint
    but the missing path. verify exits 0 on settings it ignores ("Failed to parse ...,
    ignoring"), so its output must be empty too.
    """
    analyze = tool("systemd-analyze")
    shipped = UNIT.read_text()
    assert f"\nExecStart={INSTALLED_EXEC} " in shipped
    copy = tmp_path / "sfsync.service"
    copy.write_text(shipped.replace(f"ExecStart={INSTALLED_EXEC} ", f"ExecStart={SFSYNC} "))
    changed = zip(shipped.splitlines(), copy.read_text().splitlines(), strict=True)
    assert sum(old != new for old, new in changed) == 1

    verified = run(analyze, "verify", str(copy))
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout + verified.stderr == ""

    as_shipped = run(analyze, "verify", str(UNIT))
    complaints = (as_shipped.stdout + as_shipped.stderr).splitlines()
    assert all(INSTALLED_EXEC in line for line in complaints), complaints


def test_unit_exposure_is_low() -> None:
    """`systemd-analyze security --offline=true` rates the unit's overall exposure at 2.0 or
    lower.
    """
    analyzed = run(tool("systemd-analyze"), "security", "--offline=true", "--no-pager", str(UNIT))
    assert analyzed.returncode == 0, analyzed.stderr
    found = re.search(r"Overall exposure level for sfsync\.service: (\d+\.\d+)", analyzed.stdout)
    assert found, analyzed.stdout[-2000:]
    assert float(found.group(1)) <= MAX_EXPOSURE, analyzed.stdout


def test_unit_has_the_daemons_contract() -> None:
    """The unit is a notify service with a watchdog, a reload, a stop timeout above the 30 s
    push bound, its state and config directories and the keyring passphrase credential.
    """
    settings = unit_settings(UNIT.read_text())

    def one(key: str) -> str:
        values = settings.get(f"Service.{key}", [])
        assert len(values) == 1, (key, values)
        return values[0]

    assert one("Type") == "notify"
    assert one("NotifyAccess") == "main"
    assert re.fullmatch(r"\d+(s|min)", one("WatchdogSec"))
    assert one("ExecReload") == "/bin/kill -HUP $MAINPID"
    assert one("ExecStart") == f"{INSTALLED_EXEC} --config /etc/sfsync/sfsync.toml run"
    stop = re.fullmatch(r"(\d+)s", one("TimeoutStopSec"))
    assert stop
    assert int(stop.group(1)) > 30
    assert one("Restart") == "on-failure"
    assert one("User") == "sfsync"
    assert one("StateDirectory") == "sfsync"
    assert one("StateDirectoryMode") == "0700"
    assert one("ConfigurationDirectory") == "sfsync"
    assert one("UMask") == "0077"
    credentials = settings.get("Service.LoadCredentialEncrypted", []) + settings.get(
        "Service.LoadCredential", []
    )
    assert credentials == [f"{PASSPHRASE_CREDENTIAL}:/etc/sfsync/{PASSPHRASE_CREDENTIAL}.cred"]
    assert one("MemoryDenyWriteExecute") == "yes"
    # prometheus-client reads the boot time in /proc/stat; without it no process_* metric.
    assert "Service.ProcSubset" not in settings


# Linux's own "memory-deny-write-execute" (prctl PR_SET_MDWE, Linux 6.3+) refuses the same
# things systemd's MemoryDenyWriteExecute= seccomp filter does: a mapping both writable and
# executable, and making a mapping executable later. It survives execve, so a wrapper that
# sets it and execs runs the real CLI the way the unit will.
MDWE_EXEC = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0:  # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
    sys.exit(f"prctl(PR_SET_MDWE) failed: {os.strerror(ctypes.get_errno())}")
os.execv(sys.argv[1], sys.argv[1:])
"""

# What runs in the daemon besides the CLI's sync path: every sfsync module imported, and
# watchdog's inotify observer seeing a publish (a rename into the drop folder).
MDWE_DAEMON_PARTS = """
import ctypes, mmap, pkgutil, importlib, sys, threading, pathlib
import sfsync
from watchdog.observers.inotify import InotifyObserver
from watchdog.events import FileSystemEventHandler
libc = ctypes.CDLL(None, use_errno=True)
assert libc.prctl(66, 0, 0, 0, 0) == 1, "PR_GET_MDWE: not in force"
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
except PermissionError:
    pass
else:
    sys.exit("a writable and executable mapping was allowed: MDWE is not in force")
for module in pkgutil.walk_packages(sfsync.__path__, "sfsync."):
    importlib.import_module(module.name)
seen = threading.Event()
class Handler(FileSystemEventHandler):
    def on_any_event(self, event):
        if str(event.dest_path or event.src_path).endswith("walkme.zip"):
            seen.set()
drop = pathlib.Path(sys.argv[1])
observer = InotifyObserver()
observer.schedule(Handler(), str(drop))
observer.start()
(drop / "walkme.zip.part").write_bytes(b"PK")
(drop / "walkme.zip.part").rename(drop / "walkme.zip")
assert seen.wait(10), "no inotify event"
observer.stop()
observer.join()
print("ok")
"""


def test_daemon_code_runs_without_writable_executable_memory(tmp_path: Path, emu: Emulator) -> None:
    """Under MemoryDenyWriteExecute's rule, sfsync imports whole, watchdog's inotify observer
    sees a publish, and a real `sfsync sync` pushes over TLS with its tokens in the cryptfile
    keyring (argon2, AES), unlocked from $CREDENTIALS_DIRECTORY as the unit provides it.
    """
    drop = tmp_path / "watched"
    drop.mkdir()
    parts = run(sys.executable, "-c", MDWE_EXEC, sys.executable, "-c", MDWE_DAEMON_PARTS, str(drop))
    assert parts.returncode == 0, parts.stdout + parts.stderr
    assert parts.stdout.strip() == "ok"

    (tmp_path / "site").mkdir()
    site = sync_site(tmp_path / "site", emu, {"sandbox": emu.add_org(name="sandbox")}, {})
    site.authorize("sandbox")
    site.publish(1)
    credentials = tmp_path / "credentials"
    credentials.mkdir(mode=0o700)
    (credentials / PASSPHRASE_CREDENTIAL).write_text(PASSPHRASE + "\n")
    env = {key: value for key, value in site.site.env.items() if key != PASSPHRASE_VARIABLE}
    env["CREDENTIALS_DIRECTORY"] = str(credentials)
    command = [str(SFSYNC), "--config", str(site.site.config), "sync"]
    synced = subprocess.run(
        [sys.executable, "-c", MDWE_EXEC, *command],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert site.live_sha256("sandbox") is not None


# --- Prometheus alert rules ---------------------------------------------------------------------


def test_alert_rules_pass_promtool_check() -> None:
    """`promtool check rules` accepts the rules file (syntax, PromQL and templates)."""
    checked = run(tool("promtool"), "check", "rules", str(ALERTS))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_alert_rules_pass_their_unit_tests() -> None:
    """`promtool test rules` passes the rules' own unit tests."""
    tested = run(tool("promtool"), "test", "rules", ALERT_TESTS.name, cwd=ALERT_TESTS.parent)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_is_tested_firing_and_quiet() -> None:
    """Each alert has at least one promtool case where it fires and one where it stays quiet."""
    cases = [
        case
        for test in yaml.safe_load(ALERT_TESTS.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
    ]
    for rule in alert_rules():
        own = [case for case in cases if case["alertname"] == rule["alert"]]
        assert any(case.get("exp_alerts") for case in own), f"{rule['alert']} never fires"
        assert any(not case.get("exp_alerts") for case in own), f"{rule['alert']} never quiet"


def test_alerts_cover_the_operators_questions() -> None:
    """The rules alert on: daemon down or unscraped, a connector unauthorized, no success while
    failing, failing pushes, high API usage, a refused package, a connector failing with no
    success and a push needing authorization; each has a `for:`, a severity and says which
    connector.
    """
    rules = {rule["alert"]: rule for rule in alert_rules()}
    needed = {
        "SfsyncDown": "up",
        "SfsyncMetricsAbsent": "up",
        "SfsyncConnectorNotAuthorized": "sfsync_connector_authorized",
        "SfsyncNoRecentSuccess": "sfsync_last_success_timestamp_seconds",
        "SfsyncPushFailing": "sfsync_sync_total",
        "SfsyncApiUsageHigh": "sfsync_api_usage_ratio",
        "SfsyncPackageRefused": "sfsync_sync_total",
        "SfsyncConnectorFailing": "sfsync_sync_total",
        "SfsyncPushNeedsAuthorization": "sfsync_sync_total",
    }
    assert set(needed) <= set(rules)
    assert 'result="failed"' in rules["SfsyncNoRecentSuccess"]["expr"]
    assert 'result="invalid"' in rules["SfsyncPackageRefused"]["expr"]
    assert 'result="failed"' in rules["SfsyncConnectorFailing"]["expr"]
    assert 'result="needs_authorization"' in rules["SfsyncPushNeedsAuthorization"]["expr"]
    assert "absent(" in rules["SfsyncMetricsAbsent"]["expr"]
    for name, metric in needed.items():
        assert metric in metric_names(rules[name]["expr"]), name
    for name, rule in rules.items():
        assert re.fullmatch(r"\d+[smh]", rule["for"]), name
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, name
        assert rule["annotations"]["summary"], name
        assert rule["annotations"]["description"], name
        if "connector" in rule["expr"] or "sfsync_" in rule["expr"]:
            for text in rule["annotations"].values():
                assert "{{ $labels.connector }}" in text, (name, text)


def test_alert_rules_query_only_documented_metrics() -> None:
    """Every metric name in the alert expressions is one sfsync, prometheus-client or the
    scrape itself exposes.
    """
    used = {name for rule in alert_rules() for name in metric_names(rule["expr"])}
    assert used
    assert used <= allowed_metric_names(), used - allowed_metric_names()


# --- Grafana dashboard --------------------------------------------------------------------------


def test_dashboard_has_the_variables_and_a_modern_schema() -> None:
    """The dashboard is schema 39 with a Prometheus data source variable and a connector
    variable from label_values, and every panel queries through the data source variable.
    """
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["schemaVersion"] == 39
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["connector"]["type"] == "query"
    assert variables["connector"]["definition"].startswith("label_values(")
    assert variables["connector"]["definition"].endswith(", connector)")
    ids = [panel["id"] for panel in dashboard_panels()]
    assert len(ids) == len(set(ids))
    for panel in dashboard_panels():
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"], panel["title"]


def test_dashboard_has_a_panel_per_metric() -> None:
    """Every documented sfsync metric is drawn by at least one panel."""
    drawn = {
        base_metric(name)
        for panel in dashboard_panels()
        for target in panel.get("targets", [])
        for name in metric_names(target["expr"])
    }
    missing = set(SFSYNC_METRICS) - drawn
    assert not missing, missing


def test_dashboard_queries_only_documented_metrics() -> None:
    """Every metric name in the dashboard's queries is one sfsync, prometheus-client or the
    scrape itself exposes.
    """
    used = {name for expression in dashboard_expressions() for name in metric_names(expression)}
    assert used <= allowed_metric_names(), used - allowed_metric_names()


def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    """Every panel query, with Grafana's variables filled in, parses as PromQL (promtool
    checks it as a recording rule).
    """
    filled = {"$__rate_interval": "5m", "$connector": ".*", "$system": ".*"}
    rules = []
    for index, expression in enumerate(dashboard_expressions()):
        for variable, value in filled.items():
            expression = expression.replace(variable, value)  # noqa: PLW2901 - filled in place
        assert "$" not in expression, expression
        rules.append({"record": f"dashboard:query_{index}", "expr": expression})
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    checked = run(tool("promtool"), "check", "rules", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr


# --- The names themselves -----------------------------------------------------------------------


def test_documented_metrics_are_the_daemons() -> None:
    """The names the rules and the dashboard are checked against are the ones the daemon's
    registry really exposes, with the same types.
    """
    exposed = {}
    for family in Metrics().registry.collect():
        if family.name.startswith("sfsync_"):
            name = family.name + ("_total" if family.type == "counter" else "")
            exposed[name] = family.type
    assert exposed == SFSYNC_METRICS


def test_metric_name_extraction() -> None:
    """The PromQL scanner finds selected metrics and skips functions, labels, keywords and
    Grafana variables.
    """
    expression = (
        'sum by (connector, le) (rate(sfsync_push_seconds_bucket{connector=~"$connector"}'
        "[$__rate_interval])) / ignoring (le) group_left up offset 5m and on (job) "
        'absent(process_open_fds{job="sfsync"}) > bool 0'
    )
    assert metric_names(expression) == {"sfsync_push_seconds_bucket", "up", "process_open_fds"}
