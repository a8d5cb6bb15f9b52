"""The spyne services: thin edges that convert wire objects to domain commands."""
