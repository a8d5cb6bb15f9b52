"""Routing rules engine (pure: stdlib only, no I/O).

``condition_syntax`` parses the condition language into a tree and renders it back,
``condition_compiler`` checks a tree against the attribute schema and makes it a
predicate, ``rule_attributes`` names what a condition may read and types a line's
values, ``rule_set`` holds the rule and rule-set model with its checks, ``engine``
compiles a published version into an indexed decision function (with a naive
evaluator and explain beside it). Every error it raises derives from
:class:`routing.routing_errors.RoutingError`.
"""

__all__: list[str] = []
