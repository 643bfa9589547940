# dualauth: one gunicorn instance. docker-compose.yml runs two behind nginx.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, so that a code change does not reinstall them; hashes pinned.
COPY requirements/base.lock requirements/base.lock
RUN pip install --require-hashes -r requirements/base.lock

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --shell /usr/sbin/nologin app

# The code stays root's and read-only to the app user; only the static files are its own.
COPY . .
# collectstatic reads the settings, which require keys: throwaway ones, for this step only.
RUN SECRET_KEY=collectstatic-only JWT_SIGNING_KEY=collectstatic-only \
    python manage.py collectstatic --noinput --verbosity 0 \
    && chown -R app:app staticfiles

USER app
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "deploy/healthcheck.py"]
ENTRYPOINT ["gunicorn", "--config", "deploy/gunicorn.conf.py"]
CMD ["project.wsgi"]
