"""The platform's memory: the audit trail (过程全留痕), the object store and archive packages.

Depends only on ``signing``. Its tables live in their own metadata (``archive.db``) and refer
to actors and objects by id, with no foreign keys into mutable tables.
"""
