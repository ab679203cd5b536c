# A stand-in for redis:7, made by scripts/docker-bases.sh only where that image cannot be pulled: Debian's
# redis-server on the Debian stand-in, started the way the official image starts it (as the user redis, in
# /data, protected mode off when run without a config file: the compose network is its only way in).
ARG DEBIAN_IMAGE
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends redis-server \
 && apt-get clean && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data && chown redis:redis /data
COPY redis-entrypoint.sh /usr/local/bin/redis-entrypoint.sh
WORKDIR /data
VOLUME /data
USER redis
EXPOSE 6379
ENTRYPOINT ["/usr/local/bin/redis-entrypoint.sh"]
CMD ["redis-server"]
