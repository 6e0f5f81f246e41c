"""Reading a deployRequest answer: status, doneness and Salesforce's problems verbatim."""

from __future__ import annotations

from typing import Any

from sfsync.salesforce.metadata import parse_deploy_result

DEPLOY_ID = "0Af000000000001AAA"


def answer(**result: Any) -> dict[str, Any]:
    return {"id": DEPLOY_ID, "deployResult": {"id": DEPLOY_ID, **result}}


def test_one_component_failure_comes_as_an_object() -> None:
    """A single componentFailures entry is an object, not a list; its problem is kept verbatim."""
    status = parse_deploy_result(
        DEPLOY_ID,
        answer(
            status="Failed",
            done=True,
            success=False,
            details={
                "componentFailures": {
                    "componentType": "StaticResource",
                    "fullName": "WalkMe",
                    "problem": "static resource cannot exceed 5MB",
                }
            },
        ),
    )
    assert status.done
    assert not status.success
    assert status.failures == ("StaticResource WalkMe: static resource cannot exceed 5MB",)
    assert status.describe() == (
        f"deploy {DEPLOY_ID} Failed: StaticResource WalkMe: static resource cannot exceed 5MB"
    )


def test_several_failures_and_an_error_message_are_all_reported() -> None:
    """Every failure is kept in order, after the deploy's own errorMessage."""
    status = parse_deploy_result(
        DEPLOY_ID,
        answer(
            status="Failed",
            done=True,
            errorMessage="The zip file is not a valid zip file",
            details={
                "componentFailures": [
                    {"componentType": "StaticResource", "fullName": "A", "problem": "one"},
                    {"fullName": "B", "problem": "two"},
                ]
            },
        ),
    )
    assert status.failures == ("StaticResource A: one", "component B: two")
    assert status.describe().split(": ", 1)[1] == (
        "The zip file is not a valid zip file; StaticResource A: one; component B: two"
    )


def test_a_running_deploy_is_not_done_and_a_partial_success_is_not_success() -> None:
    """InProgress is not done; SucceededPartial is done but not a success sfsync accepts."""
    running = parse_deploy_result(DEPLOY_ID, answer(status="InProgress", done=False))
    assert not running.done
    partial = parse_deploy_result(
        DEPLOY_ID, answer(status="SucceededPartial", done=True, success=True)
    )
    assert partial.done
    assert not partial.success


def test_an_answer_without_a_result_is_pending() -> None:
    """An answer with no deployResult yet reads as Pending, not done."""
    status = parse_deploy_result(DEPLOY_ID, {"id": DEPLOY_ID})
    assert status.status == "Pending"
    assert not status.done
    assert status.describe() == f"deploy {DEPLOY_ID} Pending: no details"
