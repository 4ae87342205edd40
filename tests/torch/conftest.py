"""Markers of the PyTorch tests."""


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: compiles or launches processes (seconds, not minutes)")
