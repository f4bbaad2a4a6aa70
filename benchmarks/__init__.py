"""The measurements behind ``docs/performance.md`` and ``docs/large_volumes.md``: ``python -m benchmarks`` from the
repository root (``--only SECTION`` for one section). Not part of the installed package."""
