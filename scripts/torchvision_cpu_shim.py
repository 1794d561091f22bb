"""Set-up workaround for machines whose only torchvision wheel is CUDA-linked (PyPI has no CPU
torchvision for torch 2.13). Importing such a torchvision on a CPU-only torch fails with
"operator torchvision::nms does not exist". Declaring the two missing operator schemas before
torchvision loads makes `torchvision.transforms.v2` (what the Qwen processors use) work; the
C++ ops themselves (nms, image/video decode) stay unavailable, and inkshadow does not use them.

`scripts/install_torchvision_shim.py` copies this file into a virtual environment's
site-packages with a `.pth` line that imports it at start-up, only when plain
`import torchvision` fails there. It costs nothing until torchvision is imported: a meta-path
hook declares the ops at that moment. inkshadow never imports this module; real users'
machines (CUDA, or PyTorch's own CPU wheels) need nothing of it.
"""

from __future__ import annotations

import importlib.abc
import sys
from typing import Any


class _DeclareTorchvisionOps(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if fullname != "torchvision":
            return None
        sys.meta_path.remove(self)
        import torch

        try:
            lib = torch.library.Library("torchvision", "FRAGMENT")
            lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
            lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
            globals()["_LIB"] = lib  # keep the fragment alive
        except RuntimeError:
            pass  # already declared by a working torchvision
        return None  # let the normal finders load torchvision


sys.meta_path.insert(0, _DeclareTorchvisionOps())
