"""Fault scenarios (`make test-reliability`): marked slow, excluded from `make test`."""
