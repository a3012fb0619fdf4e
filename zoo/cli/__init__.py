"""The ``zoo`` command line: one module per command, dispatched by :mod:`zoo.cli.main`."""
