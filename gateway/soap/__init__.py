"""The SOAP edge: hardened envelope reading, faults, and the WSGI front of the services."""
