"""Developer tools for nina_session (not shipped with the integration)."""
