# diplo: one bot process per container. Build: docker build -t diplo .
# Dependencies come only from requirements.lock, every file checked against its hash.
FROM python:3.11-slim AS deps
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY requirements.lock /tmp/requirements.lock
RUN python -m venv /venv \
    && /venv/bin/pip install --require-hashes --no-deps -r /tmp/requirements.lock

FROM python:3.11-slim
ENV PATH=/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DATABASE_URL=sqlite:////data/diplo.db \
    DIPLO_METRICS_HOST=0.0.0.0 \
    DIPLO_METRICS_PORT=9464 \
    DIPLO_LOG_FORMAT=json
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin diplo \
    && mkdir /data && chown diplo /data
COPY --from=deps /venv /venv
WORKDIR /app
# the code stays owned by root: the bot cannot change it
COPY bot.py deps.py settings.py alembic.ini ./
COPY cli ./cli
COPY handlers ./handlers
COPY jobs ./jobs
COPY models ./models
COPY migrations ./migrations
COPY news ./news
COPY ops ./ops
USER diplo
VOLUME /data
# 3000: Slack HTTP mode (PORT); 9464: /metrics, /healthz, /readyz (DIPLO_METRICS_PORT)
EXPOSE 3000 9464
STOPSIGNAL SIGTERM
CMD ["python", "bot.py"]
