"""The access model: who may read what, in GitLab's terms.

- ``fields``: the ``_acl`` object of an index document, from GitLab's facts;
- ``callers``: a caller (``Principal``) and their direct memberships;
- ``memberships``: from a token to a ``Principal``, asking GitLab;
- ``cache``: principals cached in Redis per token and per user, dropped by membership hooks;
- ``filter``: the clause every query carries, from a caller's principal.

May import: ``indexer.gitlab`` and indexer's infrastructure.
"""
