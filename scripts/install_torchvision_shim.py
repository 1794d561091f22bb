"""Install scripts/torchvision_cpu_shim.py into the running interpreter's site-packages when
`import torchvision` fails there for want of CPU ops. Idempotent; prints what it did."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path


def torchvision_imports() -> bool:
    probe = subprocess.run(
        [sys.executable, "-c", "import torchvision.transforms.v2"], capture_output=True
    )
    return probe.returncode == 0


def main() -> int:
    site = Path(sysconfig.get_paths()["purelib"])
    if torchvision_imports():
        print("torchvision imports: no shim needed")
        return 0
    shutil.copy(Path(__file__).with_name("torchvision_cpu_shim.py"), site / "_tv_cpu_shim.py")
    # A .pth line starting with "import" runs at interpreter start-up.
    (site / "_tv_cpu_shim.pth").write_text("import _tv_cpu_shim\n")
    if not torchvision_imports():
        print("torchvision still fails to import after the shim", file=sys.stderr)
        return 1
    print(f"installed the CPU torchvision shim into {site}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
