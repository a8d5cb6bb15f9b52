"""Delivery from the transactional outbox: the workers that send the rows orders and
events wrote with the change that caused them (:mod:`gateway.orders.outgoing`,
:mod:`gateway.events.publisher`), retries, the breaker, parking and replay."""
