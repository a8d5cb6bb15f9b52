"""Inbound security: users, password hashing, WS-Security UsernameToken and HTTP Basic."""
