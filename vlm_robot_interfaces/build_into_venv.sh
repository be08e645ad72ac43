#!/usr/bin/env bash
# Build vlm_robot_interfaces with rosidl from the ros-jazzy-* wheels and install it into a Python venv,
# so that the pip-installed rclpy imports the generated types with no environment variables.
#   usage: vlm_robot_interfaces/build_into_venv.sh VENV [BUILD_DIR]
# The venv is the ROS prefix: CMAKE_PREFIX_PATH = CMAKE_INSTALL_PREFIX = AMENT_PREFIX_PATH = VENV.
# On a robot with ROS 2 from apt use `colcon build` instead (README.md, "Install on a robot").
set -euo pipefail
VENV=$(cd "${1:?usage: build_into_venv.sh VENV [BUILD_DIR]}" && pwd)
SRC=$(cd "$(dirname "$0")" && pwd)
BUILD=${2:-$VENV/build/vlm_robot_interfaces}
PY=$VENV/bin/python
export PATH="$VENV/bin:$PATH"
# Some wheels' cmake files carry the wheel builder's Python and numpy include paths: point them at ours.
PYINC=$("$PY" -c "import sysconfig; print(sysconfig.get_paths()['include'])")
NPINC=$("$PY" -c "import numpy; print(numpy.get_include())")
for f in "$VENV"/share/*/cmake/*.cmake; do
  if grep -q -e '/opt/python/cp3[0-9]*-cp3[0-9]*/include/python3' -e 'site-packages/numpy/_core/include' \
       -e 'site-packages/numpy/core/include' "$f"; then
    sed -i -E -e "s#/opt/python/cp3[0-9]+-cp3[0-9]+/include/python3\.[0-9]+#$PYINC#g" \
              -e "s#[^;\" ]*site-packages/numpy/(_core|core)/include#$NPINC#g" "$f"
  fi
done
rm -rf "$BUILD" && mkdir -p "$(dirname "$BUILD")"
cmake -S "$SRC" -B "$BUILD" -G Ninja -Wno-dev \
  -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
  -DCMAKE_PREFIX_PATH="$VENV" -DCMAKE_INSTALL_PREFIX="$VENV" \
  -DPython3_EXECUTABLE="$PY" -DPYTHON_EXECUTABLE="$PY" >"$BUILD.log" 2>&1 || { tail -40 "$BUILD.log" >&2; exit 1; }
AMENT_PREFIX_PATH="$VENV" cmake --build "$BUILD" -j"$(nproc)" >>"$BUILD.log" 2>&1 || { tail -40 "$BUILD.log" >&2; exit 1; }
cmake --install "$BUILD" >>"$BUILD.log" 2>&1 || { tail -40 "$BUILD.log" >&2; exit 1; }
"$PY" -c "from vlm_robot_interfaces.msg import People; from vlm_robot_interfaces.action import AnswerQuestion" \
  || { echo "vlm_robot_interfaces built but does not import; see $BUILD.log" >&2; exit 1; }
echo "vlm_robot_interfaces installed into $VENV"
