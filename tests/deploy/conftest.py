import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "deploy: validates the Helm chart and Dockerfiles (scripts/validate_deploy.sh)"
    )
