"""The transactional outbox: outbound messages written with the change that causes them
(:mod:`writer`), and the workers that deliver them (:mod:`worker`)."""
