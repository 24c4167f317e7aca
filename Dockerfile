# One image for every revlink process; the compose files pick the command.
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /opt/revlink
COPY requirements.lock .
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY revlink ./revlink
COPY bridges ./bridges
COPY apps ./apps
COPY cloud ./cloud
RUN pip install --no-cache-dir --no-deps . && useradd --system --uid 10001 revlink
ENV REVLINK_LOG_FORMAT=json REVLINK_DATA_DIR=/var/lib/revlink
ENTRYPOINT ["revlink"]
CMD ["--help"]
