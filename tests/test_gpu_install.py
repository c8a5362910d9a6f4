"""The GPU install (``scripts/install_gpu.sh``, run by the README quick start and the notebooks) never
replaces the machine's CUDA torch.

A fresh virtual environment gets a stand-in ``torch`` (a wheel built here, named and versioned like a
CUDA build, ``2.9.0+cu126``, as Colab's), then the script runs in its dry-run mode: pip's resolver, over
PyPI, decides each step (``pip install --dry-run --report``) and the reports list what would be
installed. Neither torch nor any package that brings CUDA kernels or another torch may be in them.
Needs PyPI (as ``make setup`` does).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
STAND_IN = "2.9.0+cu126"
#: packages that replace or extend torch with CUDA builds: none may be in an install list
FORBIDDEN = {"torch", "torchvision", "torchaudio", "xformers", "triton", "diffusers", "torchao"}


def _stand_in_torch_wheel(folder: Path, version: str) -> Path:
    """A minimal valid wheel of a package named torch (``torch.__version__`` only)."""
    dist = f"torch-{version}.dist-info"
    files = {
        "torch/__init__.py": f'__version__ = "{version}"\n',
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: torch\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: rankrag-lite-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(text.encode())}")
    record.append(f"{dist}/RECORD,,")
    path = folder / f"torch-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        for name, text in {**files, f"{dist}/RECORD": "\n".join(record) + "\n"}.items():
            z.writestr(name, text)
    return path


@pytest.fixture(scope="module")
def cuda_like_env(tmp_path_factory) -> Path:
    """A virtual environment (with pip) whose only package besides pip is the stand-in torch."""
    tmp = tmp_path_factory.mktemp("gpu-install")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    wheel = _stand_in_torch_wheel(tmp, STAND_IN)
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-index", "--no-deps", str(wheel)], check=True)
    out = subprocess.run([str(py), "-c", "import torch; print(torch.__version__)"], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == STAND_IN
    return py


def test_gpu_install_keeps_the_machines_torch(cuda_like_env, tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_CONSTRAINT")}
    env.update(PYTHON=str(cuda_like_env), RANKRAG_LITE_INSTALL_DRY_RUN=str(reports))
    res = subprocess.run(["bash", str(ROOT / "scripts/install_gpu.sh"), "dense"], env=env, capture_output=True,
                         text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    steps = sorted(reports.glob("step*.json"))
    assert [p.name for p in steps] == ["step1.json", "step2.json"]
    planned = {}
    for path in steps:
        for item in json.loads(path.read_text())["install"]:
            planned[item["metadata"]["name"].lower().replace("_", "-")] = item["metadata"]["version"]
    # the resolver really ran over the kit's pins and the no-deps step
    assert planned["transformers"] == "5.17.0" and planned["trl"] == "1.15.0"
    assert planned["bitsandbytes"] == "0.50.2" and planned["sentence-transformers"] == "6.2.0"
    assert planned["unsloth"] == planned["unsloth-zoo"] == "2026.10.9"
    assert planned["cut-cross-entropy"] == "25.1.1" and "tyro" in planned
    assert not FORBIDDEN & set(planned), sorted(FORBIDDEN & set(planned))
    assert not [name for name in planned if name.startswith("nvidia-")]


def test_gpu_install_refuses_a_machine_without_torch(tmp_path):
    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    env = dict(os.environ, PYTHON=str(venv / "bin" / "python"), RANKRAG_LITE_INSTALL_DRY_RUN=str(tmp_path))
    res = subprocess.run(["bash", str(ROOT / "scripts/install_gpu.sh")], env=env, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 2 and "no torch" in res.stderr
    assert not list(tmp_path.glob("step*.json"))
