# syntax=docker/dockerfile:1
# The obsplane image: one binary and the embedded ClickHouse engine
# (libchdb.so), running as a non-root user. Base images are pinned by digest
# (the digests these tags resolved to, as pinned in several public
# Dockerfiles; the development machines reach no container registry, so they
# are re-checked where one is: docs/OPERATIONS.md). libchdb comes from the
# same pinned package and sha256 as scripts/install-chdb.sh, which
# deploy/image's test holds this file to.
#
#   docker build -t obsplane:$(git describe --always) --build-arg VERSION=$(git describe --always) .

ARG CHDB_VERSION=26.5.3
# sha256 of the npm package tarball @chdb/lib-linux-x64-gnu@26.5.3
ARG CHDB_TGZ_SHA256=b874e449710950da3abd7e20376f7bb3387d9e03adcc7082f022be18dfdf316a

# --- libchdb: the npm package, checked by sha256 before it is unpacked ---
FROM node:20-bookworm-slim@sha256:2cf067cfed83d5ea958367df9f966191a942351a2df77d6f0193e162b5febfc0 AS chdb
ARG CHDB_VERSION
ARG CHDB_TGZ_SHA256
WORKDIR /dl
RUN npm pack --silent "@chdb/lib-linux-x64-gnu@${CHDB_VERSION}" \
 && echo "${CHDB_TGZ_SHA256}  chdb-lib-linux-x64-gnu-${CHDB_VERSION}.tgz" | sha256sum -c - \
 && tar -xzf "chdb-lib-linux-x64-gnu-${CHDB_VERSION}.tgz" package/libchdb.so \
 && chmod 0644 package/libchdb.so

# --- obsplane: built as `make build` builds it ---
FROM golang:1.26.8-bookworm@sha256:a688600ca24f8a4d3ca77f95b0dd40704a9fc787c826660eb7ba0b641b8b175d AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY Makefile ./
COPY cmd ./cmd
COPY internal ./internal
ARG VERSION=dev
RUN make build VERSION="${VERSION}"

# --- runtime: glibc and libstdc++ for the engine, nothing else ---
FROM gcr.io/distroless/cc-debian12:nonroot@sha256:9dac0a79194e45a7da0158a9c6da57b217585af0786db3845d1f0ec1a0dd182f
COPY --from=chdb /dl/package/libchdb.so /usr/lib/obsplane/libchdb.so
COPY --from=build /src/bin/obsplane /usr/bin/obsplane
ENV CHDB_LIB=/usr/lib/obsplane/libchdb.so
USER 65532:65532
WORKDIR /var/lib/obsplane
VOLUME ["/var/lib/obsplane"]
# obsplane API and /metrics, OTLP gRPC and HTTP, Fluent forward, the logs,
# metrics and tracing adapters, ClickHouse HTTP.
EXPOSE 8080 4317 4318 24224 9098 9099 9100 8123
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD ["/usr/bin/obsplane", "health", "--url", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/usr/bin/obsplane"]
CMD ["serve", "--data", "/var/lib/obsplane"]
