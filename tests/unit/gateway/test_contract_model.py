"""The object lists (gateway/contract) load, are consistent, and refuse bad files."""

from __future__ import annotations

import pytest

from gateway.contract.model import SCALARS, ModelError, load, parse

SERVICES = ("OrderImportService", "OrderInformationService", "OrderFulfillmentResponseService")


@pytest.mark.parametrize("service", SERVICES)
def test_every_object_and_field_is_well_formed(service):
    model = load(service)
    assert model.objects
    for obj in model.objects.values():
        assert obj.fields, obj.name
        for f in obj.fields:
            assert f.scalar or f.type in model.objects, (obj.name, f.name)
            assert f.scalar == (f.type in SCALARS)
            assert set(f.sources) <= set(model.sources), (obj.name, f.name)


def test_an_attribute_answered_by_inquiry_has_the_type_it_was_imported_with():
    """GetOrderDetails gives back imported attributes under their names: where both
    services document a name, its type must agree, or the value could not be read back."""
    imported, answered = load("OrderImportService"), load("OrderInformationService")
    for theirs, ours in (("Order", "Order"), ("OrderLine", "Line")):
        for f in imported[theirs].fields:
            g = answered[ours].field(f.name)
            if g is None or not f.scalar:
                continue
            assert (g.type, g.many) == (f.type, f.many), (ours, f.name)


def test_inquiry_mirrors_every_imported_attribute():
    imported, answered = load("OrderImportService"), load("OrderInformationService")
    header = {f.name for f in answered["Order"].fields}
    assert {f.name for f in imported["Order"].fields} - header == {
        "Line",  # answered as OrderLine
        "AdditionalHeaderInformationCategories",  # answered under Oracle's inquiry name
    }
    line = {f.name for f in answered["Line"].fields}
    assert {f.name for f in imported["OrderLine"].fields} - line == {
        "AdditionalFulfillmentLineInformationCategories"
    }
    # a child object inquiry documents otherwise is copied under another name
    attachment = answered["Line"].field("Attachment")
    assert attachment is not None and attachment.type == "ImportAttachment"
    assert answered["Line"].field("LineAttachment").type == "Attachment"


HEAD = 'namespace = "urn:x"\n[sources]\ndoc = "a page"\n'


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ('[objects.A]\nfields = "X string 0..1 - doc\\nX long 0..1 - doc"', "listed twice"),
        ('[objects.A]\nfields = "X Nope 0..1 - doc"', "neither a scalar"),
        ('[objects.A]\nfields = "X string 0..1 - elsewhere"', "unknown source"),
        ('[objects.A]\nfields = "X string 2 - doc"', "occurs"),
        ('[objects.A]\nfields = "X string"', "expected"),
    ],
)
def test_a_bad_model_file_is_refused(body, complaint):
    with pytest.raises(ModelError, match=complaint):
        parse("Test", HEAD + body)
