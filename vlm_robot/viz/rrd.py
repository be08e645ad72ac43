"""What an ``.rrd`` holds, read back from the file itself (tests, `vlm-robot view --info`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class RrdContents:
    """Rows per entity (time-indexed ones; static rows such as plot styles are left out), the boxes drawn,
    the text rows per entity, and whether a blueprint is stored with the recording."""

    rows: dict[str, int] = field(default_factory=dict)
    boxes: dict[str, int] = field(default_factory=dict)
    texts: dict[str, list[str]] = field(default_factory=dict)
    blueprint: bool = False

    @property
    def entities(self) -> set[str]:
        return set(self.rows)


def read_rrd(path: str | Path) -> RrdContents:
    """Read ``path`` chunk by chunk (rerun.chunk.RrdReader, no viewer, no DataFusion)."""
    import warnings

    from rerun.chunk import RrdReader

    with warnings.catch_warnings():  # a file a viewer saved while being stopped has no footer: read it as a stream
        warnings.filterwarnings("ignore", message="RRD file has no footer")
        reader = RrdReader(str(path))
    out = RrdContents(blueprint=bool(reader.blueprints()))
    for chunk in reader.stream():
        entity = chunk.entity_path.lstrip("/")
        if chunk.is_static or entity.startswith("__"):
            continue
        batch = chunk.to_record_batch()
        names = batch.schema.names
        out.rows[entity] = out.rows.get(entity, 0) + chunk.num_rows
        if "Boxes2D:half_sizes" in names:
            sizes = batch.column(names.index("Boxes2D:half_sizes")).to_pylist()
            out.boxes[entity] = out.boxes.get(entity, 0) + sum(len(s or ()) for s in sizes)
        if "TextLog:text" in names:
            texts = batch.column(names.index("TextLog:text")).to_pylist()
            out.texts.setdefault(entity, []).extend(t[0] if isinstance(t, list) else t for t in texts if t)
    return out
