"""Rules on sensors: the pure core (conditions), what ingest adds (inbox), the background
evaluator and its actions, and the CRUD service the ``/api/v1/rules`` router uses."""

__all__: list[str] = []
