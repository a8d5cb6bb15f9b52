"""Orders: intake, orchestration, fulfillment responses and inquiry, and the outbox rows
their fulfillment requests become (spyne-free domain code)."""
