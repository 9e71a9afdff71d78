"""The edition: everything the book's chapters compute and show, read from the run records alone.

The engine (``contrastive.config``, ``data``, ``augment``, ``models``, ``memory``, ``losses``,
``train``, ``evaluate``, ``sweep``) makes runs and writes their records; the edition reads them
(``contrastive.results``) through one run table (:mod:`contrastive.edition.table`) and turns them
into the book's figures, tables, claims and verdicts. It shares with the engine only what both
must agree on: the record (``results``), the protocols (``protocols``), the paper's numbers
(``paper``), the equations (``losses``, ``metrics``) and the pilots' rules (``pilot``). A test
walks the import graph: nothing here reaches the engine.
"""
