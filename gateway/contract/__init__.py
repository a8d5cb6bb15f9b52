"""Oracle's documented objects of the three services, as data (``model``)."""
