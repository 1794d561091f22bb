"""Container health check for `docker run` (Kubernetes uses the chart's probes instead).

Reads INKSHADOW_HEALTHCHECK_URL (default: the API's liveness route) and exits 0 on a 200."""

import os
import sys
import urllib.request

URL = os.environ.get("INKSHADOW_HEALTHCHECK_URL", "http://127.0.0.1:8000/healthz")

try:
    with urllib.request.urlopen(URL, timeout=4) as response:  # noqa: S310 (fixed local URL)
        sys.exit(0 if response.status == 200 else 1)
except OSError:
    sys.exit(1)
