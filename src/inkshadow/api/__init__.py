"""The HTTP API: an app factory, routers, error mapping, metrics."""
