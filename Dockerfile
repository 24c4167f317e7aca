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
# Every process runs as an unprivileged user. The code stays root-owned (read-only to it);
# what it writes lives under /var/lib/revlink, owned by it, and the Compose volumes mounted
# there start as copies of these directories, ownership included.
RUN pip install --no-cache-dir --no-deps . \
    && groupadd --system --gid 10001 revlink \
    && useradd --system --uid 10001 --gid revlink --home-dir /var/lib/revlink \
        --no-create-home --shell /usr/sbin/nologin revlink \
    && install -d -o revlink -g revlink -m 0750 \
        /var/lib/revlink /var/lib/revlink/agent /var/lib/revlink/plugins
COPY --from=dashboard /build/dist ./dashboard
ENV REVLINK_LOG_FORMAT=json REVLINK_DATA_DIR=/var/lib/revlink \
    REVLINK_DASHBOARD_DIR=/opt/revlink/dashboard
USER 10001:10001
ENTRYPOINT ["revlink"]
CMD ["--help"]
