"""Orders: intake, lifecycle, inquiry and fulfillment responses (spyne-free domain code)."""
