"""Business events: what changed (:mod:`.recorder`), Oracle's payload for it
(:mod:`.payloads`), and the outbox rows the trigger points ask for (:mod:`.publisher`)."""

from gateway.events import publisher, recorder

# Whatever imports a part of this package has events published at its commits.
recorder.publish_with(publisher.publish)
