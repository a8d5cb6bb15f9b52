"""The management API (JSON under ``/manage/api/v1``) and the web console on it
(``/manage/``): what an operator or an admin does from a browser or a script instead of
the command line, through the same domain code, roles and audit log."""
