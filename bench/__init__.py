"""Performance benchmarks of the bot against the fake Telegram and Evolink servers (loopback only).

``python -m bench`` runs them all and writes ``bench/RESULTS.md``; each module also runs alone:
``python -m bench.latency``, ``python -m bench.idle``, ``python -m bench.throughput``,
``python bench/media.py``.
"""
