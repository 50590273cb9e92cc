"""Reading GitLab: python-gitlab for the workers' and admin commands' reads (``reader``), an
async REST client for the few calls made while answering a request (``async_client``), and
what the reads return: a project's snapshot (``snapshot``) and the facts of who may read it
(``facts``).

May import: indexer's infrastructure (``settings``, ``errors``). Nothing else in indexer.
"""
