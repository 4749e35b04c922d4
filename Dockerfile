# syntax=docker/dockerfile:1
#
# lavarank in an image: a build stage compiles the TypeScript, and a slim Node 20
# runtime gets only the production dependencies, the compiled program, the
# default model, the OpenLava configuration snippets and the installer, retrain
# and calibrate programs the npm package ships in scripts/.
#
#   docker build -t lavarank .
#   docker run --rm lavarank             # `lavarank once`: sample this container once, print the rank
#
# Putting the elim into an OpenLava host image (every host that runs LIM):
#
#   FROM lavarank AS lavarank
#   FROM your-openlava-host-image
#   # Node 20 for the elim, unless the host image has one; this binary needs
#   # glibc and libstdc++ (Debian 12 or similar)
#   COPY --from=lavarank /usr/local/bin/node /usr/local/bin/node
#   COPY --from=lavarank /opt/lavarank /opt/lavarank
#   USER root
#   RUN node /opt/lavarank/scripts/install-elim \
#         --serverdir /opt/openlava/sbin --node /usr/local/bin/node \
#         --merge-conf --envdir /opt/openlava/etc
#
# (use your image's LSF_SERVERDIR and LSF_ENVDIR). The installer writes
# $LSF_SERVERDIR/elim, a root-owned sh wrapper that execs that Node with
# /opt/lavarank/dist/src/cli.js, and merges rank, elimtrig and the rank queue
# into the cluster's files; run --merge-conf where the configuration lives
# (once, if it is shared). /opt/lavarank stays owned by root: lavarank refuses
# to run anything other users could change. Then start the cluster and check
# `lsload -l` after about 30 s; see docs/install.md.

FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json ./
RUN npm ci
# Only src/ is in the context's copy, so tsc compiles the program and not the tests.
COPY src ./src
RUN npx tsc -p .

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /opt/lavarank
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /src/dist/src ./dist/src
COPY models ./models
COPY openlava-conf ./openlava-conf
COPY scripts/install-elim scripts/retrain scripts/calibrate ./scripts/
# `once` reads /proc and needs no privileges; the elim itself runs as root under LIM.
USER node
ENTRYPOINT ["node", "--lite-mode", "--no-expose-wasm", "--no-memory-reducer", "--single-threaded-gc", "--expose-gc", "--inspect-port=192.0.2.1:9229", "/opt/lavarank/dist/src/cli.js"]
CMD ["once"]
