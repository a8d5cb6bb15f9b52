"""The routing page: the draft's rules with a form editor, defaults, the difference from
the version in use, publish, rollback, versions, and the explain form."""

from __future__ import annotations

from typing import Any

from gateway.errors import GatewayError, ValidationError
from gateway.manage.api_routing import (
    RULE_FIELDS,
    draft_view,
    edit_rule,
    explain,
    explain_given,
    publish,
    remove_rule,
    rollback,
    set_default,
    versions,
)
from gateway.manage.web_routes import Call, Page, Redirect, page
from routing.rule_attributes import ATTRIBUTES

__all__ = [
    "default_set",
    "publish_post",
    "rollback_post",
    "routing_page",
    "rule_remove",
    "rule_save",
]


def _rule_form(call: Call) -> dict[str, Any]:
    """A rule's fields from the editor's form; empty optional fields clear."""
    form = call.request.form
    data: dict[str, Any] = {k: form.get(k, "").strip() for k in RULE_FIELDS if k in form}
    priority = data.get("priority")
    if priority:
        try:
            data["priority"] = int(priority)
        except ValueError:
            raise ValidationError("INVALID_VALUE", "priority must be a whole number") from None
    else:
        data["priority"] = 0
    data["active"] = form.get("active") == "on"
    return data


@page("GET", "/routing", role="VIEWER", summary="Routing rules: draft, versions, explain")
def routing_page(call: Call) -> Page:
    draft = draft_view(call)
    editing = next((r for r in draft["rules"] if r["id"] == call.arg("edit")), None)
    explained, explain_error = None, None
    if call.arg("explain"):
        try:
            explained = explain(call)
        except GatewayError as err:  # said beside the form, which keeps what was typed
            explain_error = f"{err.code}: {err.message}"
    return Page(
        "routing.html",
        {
            "title": "Routing",
            "draft": draft,
            "versions": list(reversed(versions(call))),
            "editing": editing,
            "attributes": ATTRIBUTES,
            "given": explain_given(call),
            "explained": explained,
            "explain_error": explain_error,
            "asked": {k: call.arg(k) or "" for k in ("order", "line", "version", "at")},
            "asked_draft": call.arg("draft") == "on",
        },
    )


@page("POST", "/routing/rules", role="ADMIN", summary="Add or change a draft rule")
def rule_save(call: Call) -> Redirect:
    rule_id = call.arg("id") or ""
    mode = "update" if call.arg("mode") == "update" else "create"
    if not rule_id:
        raise ValidationError("INVALID_VALUE", "a rule needs an id")
    change = edit_rule(call, rule_id, _rule_form(call), mode)
    return Redirect(
        "/routing", notice=change.describe() if change else f"rule {rule_id}: no change"
    )


@page("POST", "/routing/rules/<rule_id>/remove", role="ADMIN", summary="Remove a draft rule")
def rule_remove(call: Call, rule_id: str) -> Redirect:
    return Redirect("/routing", notice=remove_rule(call, rule_id).describe())


@page("POST", "/routing/defaults", role="ADMIN", summary="Set or clear a draft default")
def default_set(call: Call) -> Redirect:
    task_type = call.arg("task_type")
    if task_type is None:
        raise ValidationError("INVALID_VALUE", "give the task type")
    change = set_default(call, task_type, call.arg("connector"))
    return Redirect("/routing", notice=change.describe() if change else "default: no change")


@page("POST", "/routing/publish", role="ADMIN", summary="Publish the draft")
def publish_post(call: Call) -> Redirect:
    done = publish(call)
    if done["published"] is None:
        return Redirect(
            "/routing", notice=f"nothing to publish: the draft is version {done['current']}"
        )
    return Redirect("/routing", notice=f"published routing version {done['current']}")


@page("POST", "/routing/rollback", role="ADMIN", summary="Roll back to an older version")
def rollback_post(call: Call) -> Redirect:
    version = call.number("version", 0, least=1)
    done = rollback(call, version, call.arg("discard_draft") == "on")
    dropped = len(done["draft_changes"])
    return Redirect(
        "/routing",
        notice=f"published routing version {done['version']} (the rules of version {version}); "
        f"{dropped} draft change(s)",
    )
