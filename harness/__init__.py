"""What the tests and the benchmarks (bench/) share, built on the sandbox's fakes: the vendors'
test identities, their captured payloads (fixtures/), the app run in-process or as a process
against the fakes, one clock, one wait loop and one way to send webhooks and events.

It imports neither pytest nor the tests: bench/ runs without them. pytest fixtures stay in
tests/conftest.py and the test databases in tests/databases.py; test modules import from here,
never from conftest.
"""
