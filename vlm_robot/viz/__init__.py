"""See what the robot sees and thinks, with Rerun (the optional ``[viz]`` extra, requirements/viz.txt).

* :mod:`~vlm_robot.viz.config` — :class:`VizConfig` (config/viz.yaml), no Rerun needed to read it.
* :mod:`~vlm_robot.viz.layout` — the entity layout, the viewer's blueprint and :class:`VizSession`, which turns one
  recorded or live message (raw CDR, as on the wire) into Rerun log calls. The live node and the bag
  converter both go through it, so a converted session looks like the live view.
* :mod:`~vlm_robot.viz.live` — the worker of ``viz_node``: latest frame wins, events in a bounded queue, the
  viewer watched (lost / back) so that the robot never waits on it.
* :mod:`~vlm_robot.viz.convert` — a rosbag2 MCAP session -> ``.rrd`` (``vlm-robot view BAG``, ``make demo``).
* :mod:`~vlm_robot.viz.viewer` — the Rerun web viewer as a child process bound to 127.0.0.1.
* :mod:`~vlm_robot.viz.rrd` — what an ``.rrd`` holds (entities, rows, boxes), read back for tests and checks.
* :mod:`~vlm_robot.viz.browser` — a headless Chromium screenshot over the DevTools pipe (no port opened).

Nothing in the core (``core``, ``perception``, ``reasoning``, ``safety``, ``speech``, ``vlm``) imports this
package or Rerun.
"""
