#!/bin/sh
# One image, several roles: web (granian, WSGI), realtime (daphne, WebSockets), worker and beat (Celery).
# Only `web` checks the configuration and applies migrations, so they run once per deploy.
set -eu
cd "$(dirname "$0")/.."
role="${1:-web}"
[ "$#" -gt 0 ] && shift

case "$role" in
  web)
    # Refuse to serve an insecure configuration (DEBUG, weak SECRET_KEY, `*` hosts, ...).
    python manage.py security_check
    python manage.py migrate --noinput
    # granian over WSGI measured fastest for Django here (bench/README.md); WebSockets stay on daphne.
    # 4 threads per process: every database round trip hands the GIL over, and 2 x 4 served
    # 12-25% more gets and creates than 2 x 8 on 2 cores (bench/floor.py, bench/README.md).
    exec granian basalt.wsgi:application \
      --interface wsgi \
      --host 0.0.0.0 --port 8000 \
      --workers "${WEB_CONCURRENCY:-2}" \
      --blocking-threads "${WEB_THREADS:-4}" \
      --respawn-failed-workers \
      --workers-kill-timeout 30 \
      --log-level "$(echo "${LOG_LEVEL:-INFO}" | tr '[:upper:]' '[:lower:]')" \
      --access-log "$@"
    ;;
  realtime)
    # daphne through `serve`: bounded request threads and pool, JSON errors at the edge, and an exit
    # code when the port is taken. Tasks are the `worker` service's (a warning if none reports in).
    # daphne by name: `serve`'s default is granian, not yet measured behind the proxy with Redis.
    exec python manage.py serve --no-migrate --no-worker --proxy-headers --http-server daphne \
      --host 0.0.0.0 --port 8001 "$@"
    ;;
  worker)
    exec celery -A basalt worker --loglevel "${LOG_LEVEL:-INFO}" "$@"
    ;;
  beat)
    exec celery -A basalt beat --loglevel "${LOG_LEVEL:-INFO}" --schedule /tmp/celerybeat-schedule "$@"
    ;;
  manage)
    exec python manage.py "$@"
    ;;
  *)
    exec "$role" "$@"
    ;;
esac
