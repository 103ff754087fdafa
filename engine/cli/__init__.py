"""The ``tradetape`` command line."""
