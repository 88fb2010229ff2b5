# The runner-fleet image the CI/CD components run: Node 22 LTS, the bundled
# CLI (dist/, tools/build.ts), its production dependencies and the
# CloudFormation template and presets (the components default to
# $RUNNER_FLEET_HOME/cfn/...). No entrypoint, so GitLab runs job scripts with
# the image's shell; runner-fleet is on PATH.
# Pinned by exact tag; .gitlab-ci.yml builds it without a Docker daemon (buildah).
ARG NODE_IMAGE=node:22.23.0-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts ./scripts
COPY tools/build.ts ./tools/
RUN npm run build

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    RUNNER_FLEET_HOME=/opt/runner-fleet \
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
WORKDIR /opt/runner-fleet
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force \
 && ln -s /opt/runner-fleet/bin/runner-fleet.js /usr/local/bin/runner-fleet
COPY --from=build /src/dist ./dist
COPY bin ./bin
COPY cfn ./cfn
USER node
ENTRYPOINT []
CMD ["runner-fleet", "--help"]
