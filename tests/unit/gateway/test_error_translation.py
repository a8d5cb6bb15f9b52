"""connectors and routing errors become gateway errors with the codes callers know."""

from __future__ import annotations

from connectors.connector_errors import PayloadInvalidError, Problem, SpecInvalid, WalletError
from gateway.errors import ValidationError, translate
from routing.routing_errors import ConditionError, RuleSetInvalid
from routing.routing_errors import Problem as RuleProblem


def test_a_wallet_error_is_a_wallet_error_with_its_own_sentence():
    error = translate(WalletError("the wallet key is empty"))
    assert isinstance(error, ValidationError)
    assert (error.code, error.message) == ("WALLET_ERROR", "the wallet key is empty")


def test_a_spec_is_invalid_value_named_by_what_was_refused():
    error = translate(SpecInvalid([Problem(("url",), "is not a URL")]), "connector")
    assert (error.code, error.message) == ("INVALID_VALUE", "connector: url: is not a URL")


def test_a_rule_set_lists_every_problem_one_per_line():
    problems = [RuleProblem("R1", "connector", "is unknown"), RuleProblem(None, "x", "why")]
    error = translate(RuleSetInvalid(problems), "rules cannot be published")
    assert error.code == "RULES_INVALID"
    assert error.message == (
        "rules cannot be published:\n  rule R1, connector: is unknown\n  rule set, x: why"
    )


def test_any_other_error_of_either_root_has_a_code():
    assert translate(ConditionError("unexpected 'x'", 1, 3)).code == "RULES_INVALID"
    assert translate(PayloadInvalidError("the SOAP Body is empty")).code == "INVALID_VALUE"
