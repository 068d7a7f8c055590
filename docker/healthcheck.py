"""Container health probe: GET a local path with an allowed Host header, or check beat's schedule file."""

import glob
import os
import sys
import time
import urllib.request


def probe_http(port: str, path: str) -> int:
    # Django answers 400 to a Host it does not allow, so ask with the first concrete allowed name.
    hosts = [h.strip().lstrip(".") for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h.strip()]
    host = next((h for h in hosts if h != "*"), "localhost")
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=4) as response:  # noqa: S310 - fixed loopback URL
            return 0 if response.status == 200 else 1
    except OSError as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1


def probe_beat(prefix: str, max_age: float = 600) -> int:
    # The shelve backend may add a suffix (.db, .dat); any fresh file means beat is ticking.
    ages = [time.time() - os.path.getmtime(p) for p in glob.glob(prefix + "*")]
    return 0 if ages and min(ages) < max_age else 1


if __name__ == "__main__":
    if sys.argv[1] == "--beat":
        sys.exit(probe_beat(sys.argv[2]))
    sys.exit(probe_http(sys.argv[1], sys.argv[2]))
