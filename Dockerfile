# The ranking gateway: a build stage compiles TypeScript, a runtime stage holds production dependencies only.
#
#   docker build -t ranking-gateway .
#   docker run --rm -p 4000:4000 -e JWT_SECRET="$(openssl rand -hex 32)" ranking-gateway
#
# NODE_ENV=production refuses to start without JWT_SECRET (at least 32 characters) and serves no GraphiQL unless
# GRAPHIQL=true. Without REDIS_URL the gateway uses its embedded in-process store; without DATASET_DIR it serves
# a generated (synthetic) corpus. See src/config.ts for every variable.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Dependencies first, so editing sources reuses this layer. .npmrc and package.json's allowScripts tell
# onnxruntime-node's install script to skip its CUDA download (the CPU library ships inside the package).
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY resolvers ./resolvers
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=4000
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
# The compiled code finds schema/ and models/ two levels above dist/src (src/config.ts, repoRoot).
COPY --from=build /app/dist ./dist
COPY schema ./schema
COPY models ./models
# Files stay root-owned and read-only to the process; the gateway writes nothing to disk.
# The official image's unprivileged "node" user (uid 1000).
USER node
EXPOSE 4000
# No curl in the slim image: Node's own fetch. PORT is read at run time, so an overridden PORT is still checked.
# start-period covers loading a real DATASET_DIR and seeding Redis before the server listens.
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 4000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# V8 flags: NODE_FLAGS in src/config.ts (why), the same as `npm start`.
CMD ["node", "--max-semi-space-size=64", "dist/src/main.js"]
