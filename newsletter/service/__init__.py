"""Use cases that join I/O (fetch, database, SMTP) to the pure stages; one module each."""
