"""Pure decisions and values: no I/O (no HTTP, SQL, SMTP or templates)."""
