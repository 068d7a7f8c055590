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
    exec granian basalt.wsgi:application \
      --interface wsgi \
      --host 0.0.0.0 --port 8000 \
      --workers "${WEB_CONCURRENCY:-2}" \
      --blocking-threads "${WEB_THREADS:-8}" \
      --respawn-failed-workers \
      --workers-kill-timeout 30 \
      --log-level "$(echo "${LOG_LEVEL:-INFO}" | tr '[:upper:]' '[:lower:]')" \
      --access-log "$@"
    ;;
  realtime)
    exec daphne --bind 0.0.0.0 --port 8001 --proxy-headers basalt.asgi:application "$@"
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
