"""The database: engine, tables, migrations and every query (the only SQL)."""
