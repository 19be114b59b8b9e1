"""Object storage: one interface, a filesystem and a MinIO (S3) implementation.

Objects are stored content-addressed: the key is ``sm3/<hex SM3 of the bytes>``, computed
while the bytes stream in, so a key always names exactly one content.
"""

from archive.objectstore.base import (
    ObjectMissing,
    ObjectStore,
    ObjectStoreError,
    ObjectTooLarge,
    RetentionError,
    StoredObject,
)
from archive.objectstore.factory import open_store

__all__ = [
    "ObjectMissing",
    "ObjectStore",
    "ObjectStoreError",
    "ObjectTooLarge",
    "RetentionError",
    "StoredObject",
    "open_store",
]
