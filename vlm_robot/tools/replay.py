"""`vlm-robot replay BAG`: publish a recorded session into the graph, like `ros2 bag play`.

Messages are published as the raw CDR bytes that were recorded (no re-serialisation), with the
recorded gaps between them divided by ``rate``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from vlm_robot.bag import BagMessage, check_wire_format, read_bag


def publish_bag(node, bag: str | Path, rate: float = 1.0, topics: list[str] | None = None,
                on_message: Callable[[BagMessage], None] | None = None) -> int:
    """Publish every message of ``bag`` (optionally only ``topics``) from ``node``; return the count."""
    from vlm_robot.nodes import common
    from vlm_robot.nodes.topics import message_class

    if rate <= 0:
        raise ValueError(f"replay rate must be > 0, got {rate}")
    check_wire_format(bag)
    pubs: dict[str, object] = {}
    first_bag = first_wall = None
    n = 0
    for msg in read_bag(bag, topics):
        if msg.topic not in pubs:
            qos = common.qos_for(msg.topic, publisher=True)
            pubs[msg.topic] = node.create_publisher(message_class(msg.msgtype), msg.topic, qos)
            time.sleep(0.3)  # give subscribers a moment to match the new publisher
        if first_bag is None:
            first_bag, first_wall = msg.stamp_ns, time.monotonic()
        due = first_wall + (msg.stamp_ns - first_bag) / 1e9 / rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        pubs[msg.topic].publish(msg.raw)
        n += 1
        if on_message is not None:
            on_message(msg)
    return n


def main(bag: str, rate: float = 1.0, topics: list[str] | None = None) -> int:
    import rclpy

    from vlm_robot.bag import bag_summary
    from vlm_robot.core.errors import InvalidInputError

    try:
        check_wire_format(bag)
        summary = bag_summary(bag)
    except InvalidInputError as e:
        print(f"replay: {e}")
        return 2
    chosen = topics or list(summary)
    missing = [t for t in chosen if t not in summary]
    if missing:
        print(f"replay: {missing} not in {bag}; it has {sorted(summary)}")
        return 2
    rclpy.init()
    node = rclpy.create_node("replay")
    try:
        t0 = time.monotonic()
        n = publish_bag(node, bag, rate, chosen)
        print(f"replayed {n} messages from {bag} on {len(chosen)} topics in {time.monotonic() - t0:.1f} s "
              f"(rate {rate})")
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0
