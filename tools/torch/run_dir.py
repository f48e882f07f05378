"""A run directory in zimt's layout: config.json, metrics.jsonl, summary.json.

Every write replaces the whole file through a temporary file in the same
directory, fsync and rename, so a reader never sees half a file.
"""
import json
import os


def write_atomic(path, text):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class RunDir:
    def __init__(self, path, force):
        self.path = path
        os.makedirs(path, exist_ok=True)
        if not force and os.path.exists(self._file("summary.json")):
            raise SystemExit(f"zimt_torch: {path} already holds a run (summary.json); "
                             "use --force to overwrite it")
        self.metrics_lines = []

    def _file(self, name):
        return os.path.join(self.path, name)

    def write_json(self, name, obj):
        write_atomic(self._file(name), json.dumps(obj, indent=2) + "\n")

    def append_metrics(self, record):
        self.metrics_lines.append(json.dumps(record))
        write_atomic(self._file("metrics.jsonl"), "\n".join(self.metrics_lines) + "\n")
