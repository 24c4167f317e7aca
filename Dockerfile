# One image for every revlink process; the compose files pick the command.

# The dashboard is built with the exact dependencies of frontend/package-lock.json.
FROM node:20-bookworm-slim AS dashboard
WORKDIR /build
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-fund --no-audit --loglevel=error
COPY frontend ./
RUN npm run build

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
COPY --from=dashboard /build/dist ./dashboard
ENV REVLINK_LOG_FORMAT=json REVLINK_DATA_DIR=/var/lib/revlink \
    REVLINK_DASHBOARD_DIR=/opt/revlink/dashboard
ENTRYPOINT ["revlink"]
CMD ["--help"]
