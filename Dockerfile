# WOW AI Hub: gunicorn serving the Hub; settings from the environment (see .env.example).
FROM python:3.11-slim AS build
WORKDIR /app
RUN python -m venv /venv
COPY requirements.txt .
RUN /venv/bin/pip install --no-cache-dir -r requirements.txt

FROM python:3.11-slim
RUN useradd --system --create-home --uid 1000 hub
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 HUB_DATA_DIR=/data STATIC_ROOT=/app/staticfiles PORT=9090
COPY --from=build /venv /venv
WORKDIR /app
COPY . .
RUN mkdir -p /data && chown hub:hub /data \
 && SECRET_KEY=collectstatic HUB_DATA_DIR=/tmp/build python manage.py collectstatic --noinput -v0
USER hub
EXPOSE 9090
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/health', timeout=2)"
CMD ["bin/docker-entrypoint"]
