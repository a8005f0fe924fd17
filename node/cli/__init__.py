"""The ``kura`` command."""
