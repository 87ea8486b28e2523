# pidtree-bcc in a privileged container (`make docker-run`). The container
# compiles its probes at start-up against the HOST's kernel headers, which
# docker-run mounts from /lib/modules and /usr/src.
#
# BASE is made locally by scripts/docker-image.sh (debootstrap, no registry);
# BASE=debian:bookworm-slim works the same where a registry is reachable.
ARG BASE=debian:bookworm-slim

FROM ${BASE} AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential cmake pkg-config libbpfcc-dev libjansson-dev libyaml-dev \
        libcurl4-openssl-dev libcap-dev ca-certificates && rm -rf /var/lib/apt/lists/*
COPY . /src
RUN cmake -S /src -B /build -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
        -DCMAKE_INSTALL_SYSCONFDIR=/etc -DPIDTREE_WERROR=ON && \
    cmake --build /build -j"$(nproc)" && DESTDIR=/install cmake --install /build

FROM ${BASE}
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libbpfcc libjansson4 libyaml-0-2 libcurl4 libcap2 ca-certificates && \
    rm -rf /var/lib/apt/lists/*
COPY --from=build /install/ /
ENTRYPOINT ["/usr/bin/pidtree-bcc"]
CMD ["-c", "/etc/pidtree-bcc/config.yml"]
