"""The configured document store, for the app and for command-line tools alike."""

from __future__ import annotations

from settings import Settings
from storage.base import DocumentStore


def open_store(settings: Settings) -> DocumentStore:
    """SQLite or Cosmos DB as configured (not yet opened: call `await store.open(names)`)."""
    if settings.storage == "cosmos":
        from storage.cosmos import CosmosStore
        return CosmosStore(settings.cosmos_endpoint, settings.cosmos_key, settings.cosmos_database,
                           verify_tls=settings.cosmos_verify_tls)
    from storage.sqlite import SqliteStore
    return SqliteStore(settings.sqlite_path)
