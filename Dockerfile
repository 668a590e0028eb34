# syntax=docker/dockerfile:1.7
# GamifyKit server image: `docker build -t gamifykit-server .` then see docs/deployment.md.
# Stage 1 builds the workspace packages the server needs; stage 2 holds only the server, its
# production dependencies (from `pnpm deploy`) and Node, running as the unprivileged `node` user.

ARG NODE_VERSION=20
ARG PNPM_VERSION=10.34.9

FROM node:${NODE_VERSION}-bookworm-slim AS build
ARG PNPM_VERSION
ENV PNPM_HOME=/pnpm PATH=/pnpm:$PATH CI=true TURBO_TELEMETRY_DISABLED=1
RUN npm install --global --no-fund --no-audit "pnpm@${PNPM_VERSION}"
WORKDIR /repo
# Dependencies first, keyed on the lockfile only, so source edits reuse this layer.
COPY pnpm-lock.yaml pnpm-workspace.yaml ./
RUN --mount=type=cache,id=pnpm-store,target=/pnpm/store pnpm fetch --frozen-lockfile
# Every workspace project the lockfile names must be present for a frozen install (see .dockerignore).
COPY . .
RUN --mount=type=cache,id=pnpm-store,target=/pnpm/store pnpm install --frozen-lockfile --offline
# Builds the server and every workspace package it depends on (core, http, redis, sql, file), in
# dependency order. (pnpm rather than turbo: the build context has no .git for turbo to hash.)
RUN pnpm --filter "@gamifykit/server..." run build
# A self-contained copy: the server's files, its built workspace dependencies, production node_modules.
RUN pnpm --filter @gamifykit/server deploy --prod --legacy /out

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
LABEL org.opencontainers.image.title="gamifykit-server" \
      org.opencontainers.image.description="GamifyKit gamification engine as an HTTP service" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="https://github.com/gamifykit/gamifykit"
ENV NODE_ENV=production \
    GAMIFYKIT_PROFILE=production \
    GAMIFYKIT_HOST=0.0.0.0 \
    GAMIFYKIT_PORT=3000
WORKDIR /app
COPY --from=build --chown=node:node /out ./
USER node
EXPOSE 3000
# The server exits 0 after a graceful drain on SIGTERM (GAMIFYKIT_SHUTDOWN_TIMEOUT, default 10s).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.GAMIFYKIT_PORT||3000)+(process.env.GAMIFYKIT_PREFIX||'')+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/cli.js"]
