"""Sample providers the harness tests drive through the real provider server."""
