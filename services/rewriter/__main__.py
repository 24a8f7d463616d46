"""`python -m services.rewriter`: run the writing-tools service against Kafka."""

from __future__ import annotations


def main() -> None:
    """Run the service until SIGTERM."""
    # Imported here so the package imports without the Kafka runtime's dependencies.
    from services.rewriter.spec import SPEC
    from shared.messaging.app import run_service

    run_service(SPEC)


if __name__ == "__main__":
    main()
