"""The only SQL of the package, one module per aggregate; every function takes a session."""
