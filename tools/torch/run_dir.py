"""A run directory in zimt's layout: config.json, metrics.jsonl, summary.json,
plus checkpoint.pt, the state `--resume` continues from.

Every write replaces the whole file through a temporary file in the same
directory, fsync and rename, so a reader never sees half a file.
"""
import json
import os

CHECKPOINT = "checkpoint.pt"


def write_atomic(path, write):
    """write(f) fills a binary file that then replaces path."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class RunDir:
    def __init__(self, path, force, resume):
        self.path = path
        self.metrics_lines = []
        if resume:
            if not os.path.exists(self._file(CHECKPOINT)):
                raise SystemExit(f"zimt_torch: {path} holds no checkpoint to resume (a run writes "
                                 f"{CHECKPOINT} at every epoch end); start it again with --force")
            return
        os.makedirs(path, exist_ok=True)
        if not force and os.path.exists(self._file("summary.json")):
            raise SystemExit(f"zimt_torch: {path} already holds a run (summary.json); "
                             "use --resume to continue it or --force to overwrite it")
        if os.path.exists(self._file(CHECKPOINT)):
            os.remove(self._file(CHECKPOINT))

    def _file(self, name):
        return os.path.join(self.path, name)

    def read_json(self, name):
        try:
            with open(self._file(name), encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError) as e:
            raise SystemExit(f"zimt_torch: cannot read {self._file(name)}: {e}")

    def write_json(self, name, obj):
        text = json.dumps(obj, indent=2) + "\n"
        write_atomic(self._file(name), lambda f: f.write(text.encode("utf-8")))

    def append_metrics(self, record):
        self.metrics_lines.append(json.dumps(record))
        text = "\n".join(self.metrics_lines) + "\n"
        write_atomic(self._file("metrics.jsonl"), lambda f: f.write(text.encode("utf-8")))

    def keep_metrics_through(self, step):
        """On resume: the records up to the checkpoint's step; later ones are
        measured again."""
        try:
            with open(self._file("metrics.jsonl"), encoding="utf-8") as f:
                records = [line for line in f.read().splitlines() if line.strip()]
        except FileNotFoundError:
            records = []
        try:
            self.metrics_lines = [r for r in records if json.loads(r)["step"] <= step]
        except (ValueError, KeyError, TypeError) as e:
            raise SystemExit(f"zimt_torch: {self._file('metrics.jsonl')} is damaged ({e}); "
                             "start the run again with --force")

    def save_checkpoint(self, torch, state):
        write_atomic(self._file(CHECKPOINT), lambda f: torch.save(state, f))

    def load_checkpoint(self, torch):
        try:
            return torch.load(self._file(CHECKPOINT))
        except Exception as e:  # torch.load raises many types on damaged files
            raise SystemExit(f"zimt_torch: cannot read {self._file(CHECKPOINT)} ({e}); "
                             "start the run again with --force")
