"""Every exception class the connectors define derives from the one root."""

from __future__ import annotations

import connectors
from connectors.connector_errors import ConnectorError
from tests.common.exception_tree import defined_exceptions


def test_every_connector_exception_derives_from_connector_error():
    found = defined_exceptions(connectors)
    assert ConnectorError in found  # the walk reached connectors.connector_errors
    assert [c.__qualname__ for c in found if not issubclass(c, ConnectorError)] == []


def test_the_errors_raised_as_value_errors_still_are():
    from connectors.connector_errors import AnswerInvalidError, PayloadInvalidError, SpecInvalid

    assert all(
        issubclass(c, ValueError) for c in (AnswerInvalidError, PayloadInvalidError, SpecInvalid)
    )
