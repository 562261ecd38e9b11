# One image for every Chorus process: web (gunicorn), Celery worker, Celery beat, deploy step.
# The project runs from its folder (/app); `pip install -e .` installs its pinned dependencies.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    CHORUS_VAR_DIR=/app/var \
    DJANGO_SETTINGS_MODULE=config.production

WORKDIR /app
RUN useradd --system --create-home --uid 1000 chorus

COPY . /app
# Static files are collected into the image here: the deploy step's container shares no files
# with the web containers, so it runs `deploy --no-collectstatic`. tests/config/test_production_install.py
# runs this `pip install` in a fresh virtualenv, then the compose services' commands from it.
RUN pip install -e . \
    && SECRET_KEY=collectstatic-only-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz \
       ALLOWED_HOSTS=build DATABASE_URL=postgres://build@127.0.0.1/build \
       REDIS_URL=redis://127.0.0.1:6379/0 \
       python manage.py collectstatic --noinput -v 0 \
    && mkdir -p /app/var/media /app/var/beat \
    && chown -R chorus:chorus /app/var

USER chorus
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
