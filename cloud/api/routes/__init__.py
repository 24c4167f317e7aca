"""One router per resource; ``cloud.main`` mounts them under ``/api/v1``."""
