"""What operators read across the layers below: an order with its lines, status
history and every message in and out, secrets scrubbed."""
