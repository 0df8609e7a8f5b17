# syntax=docker/dockerfile:1
# The paysignal image the Helm chart (helm/paysignal) runs.
#
# The image runs exactly what `npm install -g paysignal` installs: the first stage packs the
# repository with `npm pack` (compiling the TypeScript to dist/), the second installs that tarball
# globally with its production dependencies. Node must be 24 (see engines in package.json); the build
# fails on any other major version.
#
#   docker build -t paysignal:0.1.0 .
#   docker run --rm -p 9464:9464 -e KAFKA_BROKERS=kafka:9092 -e KAFKA_TOPIC=payment-calls paysignal:0.1.0
ARG NODE_IMAGE=node:24-slim

# ---- pack: the npm package, built from the sources ------------------------------------------------
FROM ${NODE_IMAGE} AS pack
WORKDIR /src
COPY package.json package-lock.json ./
# All dependencies as locked (the compiler is a devDependency). No install scripts: the `node`
# devDependency would download a second Node 24, and the image's own Node 24 compiles the sources.
RUN node -e "if (process.versions.node.split('.')[0] !== '24') { console.error('paysignal needs Node 24, this image has ' + process.version); process.exit(1); }" \
 && npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build-package.mjs ./scripts/
COPY bin ./bin
COPY src ./src
COPY native ./native
COPY rules ./rules
COPY dashboards ./dashboards
COPY README.md ./
# The build runs on the image's Node (prepack would run node_modules/.bin/node, which the skipped
# install script never set up); `npm pack --ignore-scripts` then packs what it built.
RUN node scripts/build-package.mjs \
 && npm pack --ignore-scripts --pack-destination /pkg \
 && mv /pkg/paysignal-*.tgz /pkg/paysignal.tgz

# ---- runtime: the package installed globally -----------------------------------------------------
FROM ${NODE_IMAGE}
# Production dependencies only; no install scripts (no runtime dependency needs one). Everything is
# owned by root and only readable by the runtime user: the application cannot modify itself, and
# the container runs with a read-only root filesystem in the chart.
COPY --from=pack /pkg/paysignal.tgz /tmp/paysignal.tgz
RUN npm install -g --omit=dev --ignore-scripts --no-audit --no-fund /tmp/paysignal.tgz \
 && rm /tmp/paysignal.tgz \
 && npm cache clean --force
# PAYSIGNAL_RULES is deliberately unset: the in-process alert engine is for single instances, so
# turn it on explicitly (PAYSIGNAL_RULES=/app/rules for the shipped rules; the chart decides per values).
# NODE_OPTIONS, MALLOC_ARENA_MAX and MALLOC_MMAP_THRESHOLD_: the memory settings paysignal ships with
# (src/service-node-options.ts explains them; the chart's `nodeOptions` value overrides NODE_OPTIONS).
ENV NODE_ENV=production \
    NODE_OPTIONS="--max-semi-space-size=4 --heap-growing-percent=100" \
    MALLOC_ARENA_MAX=1 \
    MALLOC_MMAP_THRESHOLD_=131072 \
    PAYSIGNAL_HTTP_HOST=0.0.0.0 \
    PAYSIGNAL_HTTP_PORT=9464
WORKDIR /app
# The shipped rules at the path earlier images had them: /app/rules.
RUN ln -s "$(npm root -g)/paysignal/rules" /app/rules
# A quick self-check at build time: the installed command runs under this Node.
RUN paysignal --version && paysignal rules check /app/rules > /dev/null
# The official image's non-root `node` user, by uid so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PAYSIGNAL_HTTP_PORT || 9464) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# paysignal handles SIGTERM itself (finishes the batch, commits, leaves the consumer group).
ENTRYPOINT ["paysignal"]
CMD ["run"]
