"""The HTTP API: dependencies and one router module per resource under ``routes``."""
