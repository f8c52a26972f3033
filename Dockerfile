# syntax=docker/dockerfile:1
# One image for every role: web (daphne), worker, beat, flower and the migrate job.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_ENV=production \
    DATA_DIR=/data \
    EXPORT_ROOT=/data/exports \
    UPLOAD_ROOT=/data/uploads \
    STATIC_ROOT=/app/staticfiles

WORKDIR /app
RUN useradd --create-home --uid 10001 app \
    && mkdir -p /data/exports /data/uploads \
    && chown -R app:app /data

# Dependencies in their own layer: rebuilt only when requirements.txt changes.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY --chown=app:app . .
# Hashed, compressed static files for WhiteNoise. The key only satisfies the production
# settings check during the build (so does the placeholder ocid prefix); the running
# container gets the real ones.
RUN DJANGO_SECRET_KEY=build-time-only-collectstatic-key-0123456789abcdefghijklmnop OCDS_ALLOW_PLACEHOLDER_PREFIX=1 \
    python manage.py collectstatic --noinput --verbosity 0

USER app
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"
CMD ["python", "-m", "config.server", "--bind", "0.0.0.0", "--port", "8000", "--proxy-headers", "config.asgi:application"]
