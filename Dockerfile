# syntax=docker/dockerfile:1
# llmsoak: multi-stage build; the runtime image holds only the built output
# and production dependencies, and runs as a non-root user.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY examples ./examples
RUN ln -s /app/dist/src/cli.js /usr/local/bin/llmsoak && chmod +x /app/dist/src/cli.js \
 && mkdir -p /app/reports /app/data && chown node:node /app/reports /app/data
# node's image ships the unprivileged user "node" (uid 1000). The image's files
# stay root's (read-only to it); only report.dir (default reports/ = /app/reports)
# and run.dataDir (checkpoints, default data/ = /app/data) are its own. With a
# read-only root file system mount volumes there (deploy/).
USER node
EXPOSE 9477
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9477/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["llmsoak"]
CMD ["run"]
