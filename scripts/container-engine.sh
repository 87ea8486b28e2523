# Sourced by scripts/docker-image.sh and scripts/docker-run.sh: picks the
# container engine and sets DOCKER (the command) and, for podman's service,
# DOCKER_HOST.
#
# Order: $DOCKER when given (docker or podman); else the docker CLI when its
# daemon answers (a Docker engine, or whatever $DOCKER_HOST points at); else
# podman's Docker-compatible service on /run/podman/podman.sock through the
# docker CLI; else podman itself.
PODMAN_SOCKET=/run/podman/podman.sock

container_engine() {
    if [ -n "${DOCKER:-}" ]; then
        command -v "$DOCKER" > /dev/null || { echo "$0: DOCKER=$DOCKER is not installed" >&2; return 1; }
        return 0
    fi
    if command -v docker > /dev/null; then
        if docker info > /dev/null 2>&1; then
            DOCKER=docker
            return 0
        fi
        if [ -z "${DOCKER_HOST:-}" ] && [ -S "$PODMAN_SOCKET" ] &&
            DOCKER_HOST=unix://$PODMAN_SOCKET docker info > /dev/null 2>&1; then
            export DOCKER_HOST=unix://$PODMAN_SOCKET
            DOCKER=docker
            echo "$0: using podman's Docker-compatible service ($DOCKER_HOST)" >&2
            return 0
        fi
    fi
    if command -v podman > /dev/null; then
        DOCKER=podman
        echo "$0: no Docker daemon answers; using podman" >&2
        return 0
    fi
    echo "$0: no container engine: install Docker, or podman (see README, Containers)" >&2
    return 1
}
