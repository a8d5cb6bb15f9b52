"""Routing rules engine (pure: stdlib only, no I/O).

The condition language: ``condition_syntax`` parses text into a tree and renders it
back, ``condition_compiler`` checks a tree against the attribute schema and makes it a
predicate. The rules: ``rule_attributes`` names what a condition may read and types a
line's values, ``rule_set`` holds the rule and rule-set model with its checks. The
engine: ``engine`` compiles a published version into an indexed decision function
(with a naive evaluator and explain beside it), filing each rule (``rule_filing``),
planning the lookups (``index_plan``) and writing ``decide`` as Python
(``decide_writer``); ``decision`` holds what it answers. Every error the package raises
derives from :class:`routing.routing_errors.RoutingError`.
"""

__all__: list[str] = []
