"""The revlink cloud: FastAPI, SQLAlchemy 2 async; PostgreSQL in production, SQLite embedded."""
