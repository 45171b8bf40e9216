# Build: compile the server (src/ only: bench/ and test/ are not shipped) and write the example models.
FROM node:20-bookworm-slim AS build
# Node 20 bundles npm 10, which ignores package.json's "allowScripts" (it would run
# onnxruntime-node's CUDA download), so .npmrc refuses it: use the npm the policy is tested with.
RUN npm install -g npm@11.19.1
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci
COPY tsconfig.json ./
COPY protos ./protos
COPY src ./src
COPY models ./models
# The operator console's browser code (tsc -p web/console, part of npm run build).
COPY web ./web
RUN npm run build

# Run: production dependencies, compiled code, the model repository.
# glibc 2.36 (bookworm) matches the pinned uWebSockets.js binaries.
FROM node:20-bookworm-slim
RUN npm install -g npm@11.19.1 && npm cache clean --force
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src
# The console serves its compiled scripts from dist/web/console and its stylesheet from the
# source tree (src/console/assets.ts); uPlot's files come from node_modules (a dependency).
COPY --from=build /app/dist/web ./dist/web
COPY web/console/console.css ./web/console/console.css
COPY --from=build /app/models ./models
COPY protos ./protos
# Volumes:
# - /app/state: route changes are saved under --state-dir (with --route-store file); /app
#   belongs to root, so the state gets a folder of its own that the server's user owns. A named
#   volume mounted here starts as this folder (owned by node); a host folder mounted here must
#   be writable by uid 1000.
# - a model repository of your own, mounted read-only anywhere, e.g. /models with
#   --model-repository /models (BRISK_MODEL_REPOSITORY); without one, the bundled /app/models.
# Nothing else is written: the root filesystem may be read-only (deploy/kubernetes does so).
ENV BRISK_STATE_DIR=/app/state
RUN mkdir -p /app/state && chown node:node /app/state
VOLUME ["/app/state"]
# By number, not name (node is uid 1000 in this base image): Kubernetes can check runAsNonRoot
# only against a numeric user. deploy/kubernetes and deploy/kserve run as the same uid and gid.
USER 1000:1000
EXPOSE 8000 8001 8002
# SIGTERM: readiness fails at once, serving goes on for --drain-delay (5 s), then the
# listeners close and in-flight requests finish within --drain-timeout (30 s). Give the
# container that long to stop: `docker stop -t 40`, or terminationGracePeriodSeconds above the
# sum (deploy/kubernetes sets --drain-delay 10 and 50 s).
# CPU only; deploy/gpu/Dockerfile.gpu is the CUDA variant.
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["serve"]
