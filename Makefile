# Entry points a newcomer needs; the build itself is CMake.
BUILD ?= build
CONFIG ?= example_config.yml
IMAGE ?= pidtree-bcc

.PHONY: all deps build check run test bench soak docker-image docker-run install clean

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

# CAUTION: a privileged container with the host's PID namespace: it sees and
# traces everything on the host.
docker-image:
	scripts/docker-image.sh $(IMAGE)

docker-run: docker-image
	docker run --rm --privileged --cap-add=SYS_ADMIN --pid host --net host \
		-v /sys:/sys -v /lib/modules:/lib/modules:ro -v /usr/src:/usr/src:ro \
		-v $(abspath $(CONFIG)):/etc/pidtree-bcc/config.yml:ro \
		$(IMAGE) -c /etc/pidtree-bcc/config.yml

clean:
	rm -rf $(BUILD) build-sanitize
