"""Every benchmark script still runs, with a handful of steps: `make bench` must not rot unnoticed.

The numbers they print are not checked here (speed is not asserted in tests);
only that each script finishes and prints its comparison with PyTorch.
"""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QUICK = ["--repeats", "2", "--warmup", "1", "--blocks", "1"]
SCRIPTS = {
    "mlp_step.py": (QUICK, "ratio dlcourse / PyTorch"),
    "conv_step.py": (QUICK + ["--batch", "8"], "largest im2col column matrix"),
    "rnn_step.py": (QUICK, "LSTM ratio dlcourse / PyTorch"),
    "char_lm.py": (QUICK + ["--train-steps", "20", "--val-every", "10"], "LM training step ratio"),
    "widgets_and_loaders.py": (["--repeats", "1"], "PyTorch"),
    "grading_throughput.py": (["--chapter", "00", "--students", "1", "--workers", "1"], "sandbox cost"),
    "mnist_mlp.py": (["--epochs", "1", "--hidden", "32"], "test accuracy"),
    "mnist_cnn.py": (["--epochs", "1", "--train", "500", "--c1", "4", "--c2", "4"], "training time ratio"),
    "regularization_table.py": (["--train", "300", "--val", "300", "--epochs", "1", "--only", "none,dropout"],
                                "test accuracy: measured once"),
}


def test_every_benchmark_script_is_listed_here():
    scripts = [p.name for p in (ROOT / "benchmarks").glob("*.py") if p.name != "timing.py"]
    assert sorted(scripts) == sorted(SCRIPTS)


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_benchmark_script_runs(script):
    args, expected = SCRIPTS[script]
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert expected in result.stdout, result.stdout[-3000:]
