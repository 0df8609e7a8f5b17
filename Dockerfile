# syntax=docker/dockerfile:1
# The paysignal image the Helm chart (helm/paysignal) runs.
#
# paysignal has no build step: Node 24 runs the TypeScript sources directly (type stripping), so
# the image is Node 24 + production dependencies + the sources. Node must be 24 (see engines in
# package.json); the build fails on any other major version.
#
#   docker build -t paysignal:0.1.0 .
#   docker run --rm -p 9464:9464 -e KAFKA_BROKERS=kafka:9092 -e KAFKA_TOPIC=payment-calls paysignal:0.1.0
ARG NODE_IMAGE=node:24-slim

# ---- production dependencies ---------------------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only, exactly as locked. No install scripts: no runtime dependency needs
# one (they are plain JavaScript), and the dev-only `node` package is not installed at all.
RUN node -e "if (process.versions.node.split('.')[0] !== '24') { console.error('paysignal needs Node 24, this image has ' + process.version); process.exit(1); }" \
 && npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

# ---- runtime -------------------------------------------------------------------------------------
FROM ${NODE_IMAGE}
# PAYSIGNAL_RULES is deliberately unset: the in-process alert engine is for single instances, so
# turn it on explicitly (PAYSIGNAL_RULES=/app/rules for the shipped rules; the chart decides per values).
# NODE_OPTIONS: the V8 heap settings paysignal ships with (src/service-node-options.ts explains them;
# the chart's `nodeOptions` value overrides them).
ENV NODE_ENV=production \
    NODE_OPTIONS="--max-old-space-size=192 --max-semi-space-size=4" \
    PAYSIGNAL_HTTP_HOST=0.0.0.0 \
    PAYSIGNAL_HTTP_PORT=9464
WORKDIR /app
# Everything is owned by root and only readable by the runtime user: the application cannot modify
# itself, and the container runs with a read-only root filesystem in the chart.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY bin ./bin
COPY src ./src
COPY rules ./rules
COPY dashboards ./dashboards
# A quick self-check at build time: the CLI loads under this Node (type stripping included).
RUN node bin/paysignal.js --help > /dev/null
# The official image's non-root `node` user, by uid so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PAYSIGNAL_HTTP_PORT || 9464) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# paysignal handles SIGTERM itself (finishes the batch, commits, leaves the consumer group).
ENTRYPOINT ["node", "bin/paysignal.js"]
CMD ["run"]
