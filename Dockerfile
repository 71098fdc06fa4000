# One image for every campushub command: hub, agent, sim, demo, migrate.
#   docker build -t campushub360-attendance .
#   docker run --rm campushub360-attendance            (prints the command list)

FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 (and the serial/HID bindings) fall back to compiling from source
# when no prebuilt binary matches the platform.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
# The lock file alone first, so the dependency layer is reused while only sources change.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
# The native modules were built against this same base image, so they load here unchanged.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Named volumes take their owner from the image's folder on first mount, so the
# data folders must exist and belong to the runtime user before it switches.
RUN mkdir -p /app/data/hub /app/data/agent && chown -R node:node /app/data
USER node
CMD ["node", "dist/cli/campushub.js", "--help"]
