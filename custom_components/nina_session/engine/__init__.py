"""The NINA session engine: connection, pipeline and store, free of Home Assistant."""
