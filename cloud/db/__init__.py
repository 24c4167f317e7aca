"""Database plumbing: the declarative base, the engine and session factory, migrations."""
