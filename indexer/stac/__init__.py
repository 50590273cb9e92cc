"""STAC items as SharingHub builds them, from a GitLab project's snapshot.

- ``categories`` (and the defaults in ``categories.yaml``): GitLab topics to collections,
  with each category's asset rules and extensions;
- ``front_matter``: a README's metadata and description;
- ``assets``, ``media_types``: repository files and releases as assets;
- ``geometry``: spatial extents as GeoJSON, cleaned;
- ``queryables``: the properties of the STAC extensions labstac knows, and their types;
- ``items``: all of the above into one item (pystac) and its index documents.

May import: ``indexer.gitlab`` (snapshots) and indexer's infrastructure.
"""
