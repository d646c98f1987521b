"""The engine layer: fan-out over rows, the journal, the run lock and the protocols they share.

It depends only on runner.models, runner.errors and runner.events: never on the platform client,
aiohttp, the input readers, the outputs or the commands (tests/test_architecture.py checks this).
"""
