"""Routing rules engine (pure: stdlib only, no I/O).

``conditions`` parses and compiles the condition language, ``rules`` holds the rule
and rule-set model with its checks, ``engine`` compiles a published version into an
indexed decision function (with a naive evaluator and explain beside it). Every error
it raises derives from :class:`routing.routing_errors.RoutingError`.
"""

__all__: list[str] = []
