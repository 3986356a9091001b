# lockgate-emulator: the SQS-compatible emulator alone, as a container image that pulls no base
# image. Built by scripts/image.sh from the static binary (x86_64-unknown-linux-musl) and a
# root filesystem it prepares (an empty /data and /tmp); see docs/container.md.
FROM scratch

ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="lockgate-emulator" \
      org.opencontainers.image.description="An SQS-compatible emulator: JSON and Query protocols, standard and FIFO queues, durable on disk, an S3-compatible endpoint, TLS, a web console and metrics." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/lockgate/lockgate" \
      org.opencontainers.image.documentation="https://github.com/lockgate/lockgate/blob/main/docs/container.md"

# /data (the durable state, a volume) and /tmp, owned by the user the emulator runs as.
COPY --chown=65534:65534 rootfs/ /
COPY lockgate-emulator /lockgate-emulator

ENV LOCKGATE_BIND=0.0.0.0:9324 \
    LOCKGATE_DATA_DIR=/data \
    TMPDIR=/tmp
USER 65534:65534
VOLUME ["/data"]
EXPOSE 9324
HEALTHCHECK --interval=5s --timeout=3s --start-period=1s --retries=3 \
    CMD ["/lockgate-emulator", "health"]
ENTRYPOINT ["/lockgate-emulator"]
