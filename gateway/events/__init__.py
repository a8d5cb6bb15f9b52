"""Business events: what changed (:mod:`.recorder`), Oracle's payload for it
(:mod:`.payloads`), and the outbox rows the trigger points ask for (:mod:`.publisher`)."""
