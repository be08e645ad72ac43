"""Shared fixtures. DDS stays on this machine for every test (localhost discovery, random domain);
`make test` also runs pytest inside a private network namespace when it runs as root."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vlm_robot.isolate import loopback_defaults

loopback_defaults()


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    from vlm_robot.core.assets import DEMO_FACE_IMAGE

    return cv2.cvtColor(cv2.imread(str(DEMO_FACE_IMAGE.path())), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="session")
def perceiver():
    from vlm_robot.perception.pipeline import Perceiver

    return Perceiver()


@pytest.fixture(scope="session")
def chat_model():
    from vlm_robot.reasoning.llm import LLMConfig, load_chat_model

    return load_chat_model(LLMConfig())


@pytest.fixture(scope="session")
def demo_scene():
    from vlm_robot.sim.scene import Scene

    return Scene.load("sim/scenes/demo.yaml")
