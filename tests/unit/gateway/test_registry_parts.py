"""Registry joins the per-part stores; none of them may shadow another's method."""

from __future__ import annotations

from gateway.registry.references import REFUSALS
from gateway.registry.store import Registry
from gateway.registry.store_base import StoreBase


def test_the_stores_registry_joins_share_no_method_name():
    owners: dict[str, str] = {}
    for store in Registry.__mro__[1:]:
        if store in (StoreBase, object):
            continue
        for name in vars(store):
            if not name.startswith("__"):
                assert name not in owners, f"{store.__name__} and {owners[name]} both define {name}"
                owners[name] = store.__name__


def test_every_refusal_names_what_it_refuses_and_who_is_in_the_way():
    for change, refusals in REFUSALS.items():
        assert refusals, change
        for refusal in refusals:
            assert refusal.finders and "{0}" in refusal.message and "{users}" in refusal.message
