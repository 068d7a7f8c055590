# Basalt production image: one image for web (granian), realtime (daphne), worker and beat.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app/platform \
    BASALT_PROFILE=production \
    BASALT_DATA_DIR=/app/data \
    STATIC_ROOT=/app/static

WORKDIR /app
RUN groupadd --system --gid 10001 basalt \
    && useradd --system --uid 10001 --gid basalt --home-dir /app --shell /usr/sbin/nologin basalt

COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY . .
# Static files are collected at build time; the secret and hosts exist only for this step
# (production settings refuse to load without them) and are not kept in the image.
RUN BASALT_DATA_DIR=/tmp/build-data \
    SECRET_KEY=build-time-only-not-a-runtime-secret-0123456789 \
    ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --noinput -v0 \
    && rm -rf /tmp/build-data \
    && mkdir -p /app/data \
    && chown basalt:basalt /app/data \
    && chmod +x /app/docker/entrypoint.sh

USER basalt
EXPOSE 8000 8001
ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["web"]
