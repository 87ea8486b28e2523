# Entry points a newcomer needs; the build itself is CMake.
BUILD ?= build
CONFIG ?= example_config.yml
IMAGE ?= pidtree-bcc
NAME ?= pidtree-bcc

.PHONY: all deps build check run test bench soak docker-image docker-run deb install clean

all: build

deps:
	scripts/install-deps.sh

build:
	cmake -S . -B $(BUILD) -DPIDTREE_WERROR=ON
	cmake --build $(BUILD) -j$$(nproc)

# Runs the tracer on $(CONFIG), from a fresh host: dependencies, build, run.
run: deps build
	$(BUILD)/pidtree-bcc -c $(CONFIG)

# For contributors, without root: the -Werror build and the unit tests
# (dependencies installed already; see `make deps`).
check: build
	cd $(BUILD) && ctest -L unit --output-on-failure

# The whole test suite: unit and integration tests, then again under
# AddressSanitizer and UndefinedBehaviorSanitizer, then valgrind.
test:
	scripts/test.sh

bench: deps build
	scripts/bench.sh

# Ten minutes (SOAK_SECONDS) of every probe and plugin under mixed load and
# an unprivileged flooder: bench/results/soak.{json,md}.
soak: deps build
	bench/soak.sh

install: build
	cmake --install $(BUILD)

# The container image, on a Debian base made locally with debootstrap (no
# registry needed; BASE=debian:bookworm-slim pulls one instead). Docker, or
# podman (directly or through its Docker-compatible service): see README.
docker-image:
	scripts/docker-image.sh $(IMAGE)

# CAUTION: a privileged container with the host's PID namespace: it sees and
# traces everything on the host. scripts/docker-run.sh says what each flag
# and mount is for. Stop it with: docker stop $(NAME)
docker-run: docker-image
	scripts/docker-run.sh $(IMAGE) $(CONFIG) $(NAME)

# The Debian package, into build-deb/.
deb:
	scripts/deb.sh build-deb

clean:
	rm -rf $(BUILD) build-sanitize build-deb
